/**
 * The webhook's HTTPS server: `POST /mutate` answers AdmissionReviews
 * ({@linkcode reviewAdmission}), `GET /healthz` answers 200.
 *
 * Side effects: reads the certificate and key files (at start, then every
 * `certCheckIntervalMs`), opens a throwaway TLS listener on 127.0.0.1 to
 * check a new pair, listens on a TCP port, logs through the given logger.
 *
 * Why `node:https` and not `Deno.serve`: on Deno 2.9, `Deno.serve` over TLS
 * answers an HTTP/2 request whose response body is over about 1 KB (an
 * AdmissionReview with a patch always is) 40 ms late: the response leaves in
 * two TLS records and the second waits for the client's delayed ACK. The
 * API server talks HTTP/2 to webhooks, and a pod create through it took 48
 * ms with `Deno.serve` against 6 ms with `node:https`, which speaks
 * HTTP/1.1 only. `node:https` also swaps certificates in place.
 *
 * Certificate rotation: when the files' contents change, the new pair is
 * first tried on a throwaway `Deno.listenTls` listener (a half-written pair,
 * or a key that does not match the certificate, is refused there, and the
 * old pair stays in service with one warning), then handed to the server
 * with `setSecureContext`: new connections get the new certificate, open
 * ones keep theirs, and the listener never closes.
 *
 * Stopping: when `signal` aborts, the listener closes, idle connections
 * close, requests in flight finish (at most `drainTimeoutMs`, then their
 * connections are cut), then `finished` resolves.
 */

import { Buffer } from "node:buffer";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
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
import type { ListenAddress } from "../listen_address.ts";
import { quote } from "../quote.ts";

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
  /** Resolves when the server has stopped, after `signal` aborted. */
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
  /** The errno name (`EADDRINUSE`, `EACCES`, ...), or the error's name. */
  readonly code: string;

  constructor(address: ListenAddress, cause: unknown) {
    const code = (cause as { code?: unknown } | undefined)?.code;
    super(
      `Cannot listen on ${address.hostname}:${address.port}: ${
        osErrorReason(cause)
      }`,
      1,
      { cause },
    );
    this.hostname = address.hostname;
    this.port = address.port;
    this.code = typeof code === "string"
      ? code
      : cause instanceof Error
      ? cause.name
      : "Error";
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
        `Cannot read ${quote(path)}: ${osErrorReason(error)}`,
        options,
        error,
      );
    }
  };
  // One after the other: the first file that fails is the one named.
  const cert = await read(options.tlsCertFile);
  return { cert, key: await read(options.tlsKeyFile) };
}

/**
 * Throws {@linkcode TlsError} unless `pair` makes a working TLS server: a
 * throwaway listener on 127.0.0.1 parses both and checks that the key
 * belongs to the certificate (`node:https` would only fail at handshakes).
 */
function checkKeyPair(pair: KeyPair, options: WebhookOptions): void {
  try {
    Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...pair }).close();
  } catch (error) {
    throw new TlsError(
      `TLS certificate ${quote(options.tlsCertFile)} and key ${
        quote(options.tlsKeyFile)
      } cannot be used: ${osErrorReason(error)}`,
      options,
      error,
    );
  }
}

function send(
  response: ServerResponse,
  answer: AdmissionAnswer,
  close: boolean,
): void {
  const body = JSON.stringify(answer.review);
  response.writeHead(answer.status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    ...(close ? { connection: "close" } : {}),
  });
  response.end(body);
}

function plain(response: ServerResponse, status: number, allow?: string) {
  response.writeHead(status, allow === undefined ? {} : { allow });
  response.end();
}

/**
 * The request listener: routes, the body limit (announced lengths refused
 * before reading, streamed bodies cut at the limit; both answered 413 and
 * the connection closed), and logging of denials.
 */
export function createListener(
  settings: InjectionSettings,
  log: Logger,
): (request: IncomingMessage, response: ServerResponse) => void {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const answered = (answer: AdmissionAnswer) => {
    if (!answer.review.response.allowed) {
      log.info(
        `Denied ${oneLine(answer.subject, 200)} (HTTP ${answer.status}): ${
          oneLine(answer.summary)
        }`,
      );
    } else {
      log.debug(`Admitted ${oneLine(answer.subject, 200)}: ${answer.summary}`);
    }
  };
  return (request, response) => {
    const path = (request.url ?? "").split("?", 1)[0];
    if (path === "/healthz") {
      if (request.method !== "GET" && request.method !== "HEAD") {
        return plain(response, 405, "GET, HEAD");
      }
      response.writeHead(200, { "content-type": "text/plain" });
      response.end("ok\n");
      return;
    }
    if (path !== "/mutate") return plain(response, 404);
    if (request.method !== "POST") return plain(response, 405, "POST");

    const tooLarge = () => {
      const answer = oversizedAnswer();
      answered(answer);
      send(response, answer, true);
      response.on("finish", () => request.socket.destroy());
    };
    if (Number(request.headers["content-length"] ?? 0) > MAX_BODY_BYTES) {
      return tooLarge();
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    let done = false;
    request.on("data", (chunk: Uint8Array) => {
      if (done) return;
      total += chunk.length;
      if (total > MAX_BODY_BYTES) {
        done = true;
        chunks.length = 0;
        tooLarge();
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => {
      if (done) return;
      done = true;
      let answer: AdmissionAnswer;
      try {
        answer = reviewAdmission(
          decoder.decode(Buffer.concat(chunks, total)),
          settings,
        );
      } catch (error) {
        // TextDecoder's fatal mode throws a TypeError on bad UTF-8;
        // anything else is a bug, answered without a 500.
        answer = error instanceof TypeError
          ? unreadableAnswer("request body is not UTF-8 text")
          : unreadableAnswer("internal error in kcm's webhook");
        if (!(error instanceof TypeError)) {
          log.error(
            `Internal error answering a request: ${osErrorReason(error)}`,
          );
        }
      }
      answered(answer);
      send(response, answer, false);
    });
    request.on("error", () => {
      done = true;
    });
  };
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
  let pair = await readKeyPair(options);
  checkKeyPair(pair, options);
  const server: Server = createServer(
    { cert: pair.cert, key: pair.key },
    createListener(options, log),
  );
  // Longer than the API server's idle timeout for its connections (90 s):
  // a connection closed by the server just as the client reuses it fails
  // that admission, and the API server does not retry it.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 30_000;
  server.requestTimeout = 30_000;
  server.on("tlsClientError", (error: Error) => {
    log.debug(`TLS handshake failed: ${osErrorReason(error)}`);
  });
  await new Promise<void>((resolve, reject) => {
    const failed = (error: unknown) => {
      reject(new ListenError(options.listen, error));
    };
    server.once("error", failed);
    server.listen(options.listen.port, options.listen.hostname, () => {
      server.off("error", failed);
      resolve();
    });
  });
  const address = server.address();
  const addr = {
    hostname: options.listen.hostname,
    port: typeof address === "object" && address !== null
      ? address.port
      : options.listen.port,
  };
  log.info(
    `kcm webhook listening on https://${addr.hostname}:${addr.port} (conf dir ${options.confDir}, install dir ${options.installDir})`,
  );

  let reloading: Promise<boolean> | undefined;
  let refused: string | undefined;
  let stopped = false;

  async function check(): Promise<boolean> {
    if (stopped) return false;
    let next: KeyPair;
    try {
      next = await readKeyPair(options);
      if (next.cert === pair.cert && next.key === pair.key) return false;
      checkKeyPair(next, options);
    } catch (error) {
      const reason = (error as Error).message;
      if (refused !== reason) {
        log.warning(`${reason}; still serving the previous certificate`);
        refused = reason;
      }
      return false;
    }
    server.setSecureContext({ cert: next.cert, key: next.key });
    pair = next;
    refused = undefined;
    log.info(
      `Serving the new TLS certificate from ${quote(options.tlsCertFile)}`,
    );
    return true;
  }

  function reloadCertificate(): Promise<boolean> {
    reloading ??= check().finally(() => reloading = undefined);
    return reloading;
  }

  const timer = setInterval(
    () => void reloadCertificate(),
    deps.certCheckIntervalMs ?? 10_000,
  );
  let wake: () => void = () => {};
  const stopRequested = new Promise<void>((resolve) => wake = resolve);
  signal.addEventListener("abort", () => wake(), { once: true });
  if (signal.aborted) wake();

  const finished = (async () => {
    await stopRequested;
    stopped = true;
    clearInterval(timer);
    await reloading;
    log.info(
      `Stopping on ${String(signal.reason)}: draining requests in flight`,
    );
    const closed = new Promise<void>((resolve) =>
      server.close(() => resolve())
    );
    server.closeIdleConnections();
    let timeout: ReturnType<typeof setTimeout> | undefined;
    const drained = await Promise.race([
      closed.then(() => true),
      new Promise<false>((resolve) => {
        timeout = setTimeout(
          () => resolve(false),
          deps.drainTimeoutMs ?? 20_000,
        );
      }),
    ]);
    clearTimeout(timeout);
    if (!drained) {
      log.warning(
        "Requests still in flight after the drain timeout; closing them",
      );
      server.closeAllConnections();
      await closed;
    }
  })();

  return { addr, finished, reloadCertificate };
}
