/**
 * The webhook's HTTPS server: `POST /mutate` answers AdmissionReviews
 * ({@linkcode reviewAdmission}), `GET /healthz` answers 200.
 *
 * Side effects: reads the certificate and key files (at start, then every
 * `certCheckIntervalMs`), listens on a TCP port with `Deno.serve`, logs
 * through the given logger.
 *
 * Certificate rotation: `Deno.serve` takes its certificate once, so when
 * the files' contents change the server first tries the new pair on a
 * throwaway listener on 127.0.0.1 (a half-written pair, or a key that does
 * not match the certificate, is refused there and the old pair stays in
 * service, with one warning), then closes its listener, binds a new one on
 * the same address with the new pair, and lets the old one finish the
 * requests it has in flight. Between closing and binding, about a
 * millisecond, new connections are refused; connections waiting in the old
 * listener's queue are reset. (`SO_REUSEPORT` would let the two listeners
 * overlap, but Deno 2.9 allows it only with `--unstable-net`.)
 *
 * Stopping: when `signal` aborts, the listener closes, requests in flight
 * finish (at most `drainTimeoutMs`), then `finished` resolves.
 */

import { KcmError, osErrorReason } from "../errors.ts";
import type { Logger } from "../log.ts";
import { oneLine } from "./admission_review.ts";
import type { InjectionSettings } from "./mutate_pod.ts";
import { MAX_BODY_BYTES } from "./names.ts";
import {
  type AdmissionAnswer,
  oversizedAnswer,
  reviewAdmission,
  unreadableAnswer,
} from "./review.ts";
import type { ListenAddress } from "./settings.ts";

/** What `kcm webhook` serves with. */
export interface WebhookOptions extends InjectionSettings {
  /** PEM certificate chain, re-read when it changes. */
  readonly tlsCertFile: string;
  /** PEM private key of the certificate. */
  readonly tlsKeyFile: string;
  readonly listen: ListenAddress;
}

/** The server's effects and timings. */
export interface WebhookServerDeps {
  /** Aborting it drains and stops the server. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** How often the certificate files are compared; default 10 s. */
  readonly certCheckIntervalMs?: number;
  /** How long requests in flight may take after a stop; default 20 s. */
  readonly drainTimeoutMs?: number;
}

/** A running webhook server. */
export interface WebhookServer {
  /** The address it listens on (the real port when 0 was asked for). */
  readonly addr: ListenAddress;
  /**
   * Resolves when the server has stopped after `signal` aborted; rejects
   * with a {@linkcode ListenError} when it lost its listener.
   */
  readonly finished: Promise<void>;
  /**
   * Compares the certificate files now, as the timer does; resolves to true
   * when a new pair is being served.
   */
  reloadCertificate(): Promise<boolean>;
}

/** The certificate or key cannot be read or used. */
export class TlsError extends KcmError {
  readonly certFile: string;
  readonly keyFile: string;

  constructor(
    message: string,
    files: Pick<WebhookOptions, "tlsCertFile" | "tlsKeyFile">,
    cause?: unknown,
  ) {
    super(message, 1, {
      cause,
      hint:
        "--tls-cert must hold a PEM certificate chain and --tls-key its PEM private key",
    });
    this.certFile = files.tlsCertFile;
    this.keyFile = files.tlsKeyFile;
  }
}

/** The address cannot be listened on. */
export class ListenError extends KcmError {
  readonly hostname: string;
  readonly port: number;
  /** The Deno error class name (`AddrInUse`, `PermissionDenied`, ...). */
  readonly code: string;

  constructor(address: ListenAddress, cause: unknown) {
    const code = cause instanceof Error ? cause.name : "Error";
    super(
      `Cannot listen on ${address.hostname}:${address.port}: ${
        osErrorReason(cause)
      }`,
      1,
      { cause },
    );
    this.hostname = address.hostname;
    this.port = address.port;
    this.code = code;
  }
}

interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

async function readKeyPair(options: WebhookOptions): Promise<KeyPair> {
  const read = async (path: string) => {
    try {
      return await Deno.readTextFile(path);
    } catch (error) {
      throw new TlsError(
        `Cannot read "${path}": ${osErrorReason(error)}`,
        options,
        error,
      );
    }
  };
  const [cert, key] = await Promise.all([
    read(options.tlsCertFile),
    read(options.tlsKeyFile),
  ]);
  return { cert, key };
}

function isListenFailure(error: unknown): boolean {
  return error instanceof Deno.errors.AddrInUse ||
    error instanceof Deno.errors.AddrNotAvailable ||
    error instanceof Deno.errors.PermissionDenied ||
    error instanceof Deno.errors.NotCapable;
}

function pairError(options: WebhookOptions, error: unknown): TlsError {
  return new TlsError(
    `TLS certificate "${options.tlsCertFile}" and key "${options.tlsKeyFile}" cannot be used: ${
      osErrorReason(error)
    }`,
    options,
    error,
  );
}

/** Reads the body, at most `limit` bytes; undefined when it is longer. */
async function readBody(
  request: Request,
  limit: number,
): Promise<Uint8Array | undefined> {
  const length = Number(request.headers.get("content-length") ?? "0");
  if (length > limit) return undefined;
  if (request.body === null) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return body;
}

function answerResponse(answer: AdmissionAnswer): Response {
  return new Response(JSON.stringify(answer.review), {
    status: answer.status,
    headers: { "content-type": "application/json" },
  });
}

async function answerRequest(
  request: Request,
  settings: InjectionSettings,
  decoder: TextDecoder,
): Promise<AdmissionAnswer> {
  let bytes: Uint8Array | undefined;
  try {
    bytes = await readBody(request, MAX_BODY_BYTES);
  } catch (error) {
    return unreadableAnswer(
      `request body could not be read: ${osErrorReason(error)}`,
    );
  }
  if (bytes === undefined) return oversizedAnswer();
  let body: string;
  try {
    body = decoder.decode(bytes);
  } catch {
    return unreadableAnswer("request body is not UTF-8 text");
  }
  return reviewAdmission(body, settings);
}

/** The request handler: routes, body limit, and logging of denials. */
export function createHandler(
  settings: InjectionSettings,
  log: Logger,
): (request: Request) => Promise<Response> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  return async (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/healthz") {
      return request.method === "GET" || request.method === "HEAD"
        ? new Response("ok\n")
        : new Response(null, { status: 405, headers: { allow: "GET, HEAD" } });
    }
    if (path !== "/mutate") return new Response(null, { status: 404 });
    if (request.method !== "POST") {
      return new Response(null, { status: 405, headers: { allow: "POST" } });
    }
    const answer = await answerRequest(request, settings, decoder);
    if (!answer.review.response.allowed) {
      log.info(
        `Denied ${oneLine(answer.subject, 200)} (HTTP ${answer.status}): ${
          oneLine(answer.summary)
        }`,
      );
    } else if (log.enabled("DEBUG")) {
      log.debug(`Admitted ${oneLine(answer.subject, 200)}: ${answer.summary}`);
    }
    return answerResponse(answer);
  };
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Starts the webhook server. Throws {@linkcode TlsError} when the
 * certificate or key cannot be read or used, {@linkcode ListenError} when
 * the address cannot be listened on.
 */
export async function startWebhookServer(
  options: WebhookOptions,
  deps: WebhookServerDeps,
): Promise<WebhookServer> {
  const { log, signal } = deps;
  const handler = createHandler(options, log);
  const onError = (error: unknown) => {
    log.error(`Internal error answering a request: ${osErrorReason(error)}`);
    return answerResponse(unreadableAnswer("internal error in kcm's webhook"));
  };
  const listen = (pair: KeyPair, port: number) =>
    Deno.serve({
      hostname: options.listen.hostname,
      port,
      cert: pair.cert,
      key: pair.key,
      onListen() {},
      onError,
    }, handler);

  let pair = await readKeyPair(options);
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = listen(pair, options.listen.port);
  } catch (error) {
    if (isListenFailure(error)) throw new ListenError(options.listen, error);
    throw pairError(options, error);
  }
  const addr = { hostname: options.listen.hostname, port: server.addr.port };
  log.info(
    `kcm webhook listening on https://${addr.hostname}:${addr.port} (conf dir ${options.confDir}, install dir ${options.installDir})`,
  );

  const draining = new Set<Promise<void>>();
  let reloading: Promise<boolean> | undefined;
  let refused: string | undefined;
  let failed: ListenError | undefined;
  let stopped = false;
  let wake: () => void = () => {};
  const stopRequested = new Promise<void>((resolve) => wake = resolve);

  /** Swaps the listener for one with `next`; false when `next` is unusable. */
  async function swap(next: KeyPair): Promise<boolean> {
    try {
      const probe = Deno.serve({
        hostname: "127.0.0.1",
        port: 0,
        cert: next.cert,
        key: next.key,
        onListen() {},
      }, () => new Response(null, { status: 503 }));
      await probe.shutdown();
    } catch (error) {
      const reason = osErrorReason(error);
      if (refused !== reason) {
        log.warning(
          `New TLS certificate in "${options.tlsCertFile}" and "${options.tlsKeyFile}" cannot be used yet (${reason}); still serving the previous one`,
        );
        refused = reason;
      }
      return false;
    }
    const old = server;
    const closing = old.shutdown();
    draining.add(closing);
    void closing.finally(() => draining.delete(closing));
    const deadline = Date.now() + 2000;
    while (true) {
      try {
        server = listen(next, addr.port);
        break;
      } catch (error) {
        if (error instanceof Deno.errors.AddrInUse && Date.now() < deadline) {
          await pause(2);
          continue;
        }
        failed = new ListenError(addr, error);
        log.error(`${failed.message}; stopping`);
        wake();
        return false;
      }
    }
    pair = next;
    refused = undefined;
    log.info(
      `Serving the new TLS certificate from "${options.tlsCertFile}"`,
    );
    return true;
  }

  async function check(): Promise<boolean> {
    if (stopped || failed !== undefined) return false;
    let next: KeyPair;
    try {
      next = await readKeyPair(options);
    } catch (error) {
      const reason = (error as Error).message;
      if (refused !== reason) {
        log.warning(`${reason}; still serving the previous certificate`);
        refused = reason;
      }
      return false;
    }
    if (next.cert === pair.cert && next.key === pair.key) return false;
    return await swap(next);
  }

  function reloadCertificate(): Promise<boolean> {
    reloading ??= check().finally(() => reloading = undefined);
    return reloading;
  }

  const timer = setInterval(
    () => void reloadCertificate(),
    deps.certCheckIntervalMs ?? 10_000,
  );
  const onAbort = () => wake();
  signal.addEventListener("abort", onAbort, { once: true });
  if (signal.aborted) wake();

  const finished = (async () => {
    await stopRequested;
    stopped = true;
    clearInterval(timer);
    signal.removeEventListener("abort", onAbort);
    await reloading;
    if (failed !== undefined) {
      await Promise.all(draining);
      throw failed;
    }
    log.info(
      `Stopping on ${String(signal.reason)}: draining requests in flight`,
    );
    let timeout: ReturnType<typeof setTimeout> | undefined;
    const drained = await Promise.race([
      Promise.all([server.shutdown(), ...draining]).then(() => true),
      new Promise<false>((resolve) => {
        timeout = setTimeout(
          () => resolve(false),
          deps.drainTimeoutMs ?? 20_000,
        );
      }),
    ]);
    clearTimeout(timeout);
    if (!drained) {
      log.warning("Requests still in flight after the drain timeout");
    }
  })();

  return { addr, finished, reloadCertificate };
}
