/**
 * A small JSON client for the Kubernetes API on plain `fetch`, with TLS
 * always verified against the configured CA (Deno.createHttpClient).
 *
 * Side effects: HTTPS requests to the configured server; waits on the
 * given clock between retries; DEBUG log lines naming method, URL and
 * status (never a header, so never the token).
 *
 * Every request says `User-Agent: kcm/<version>`, so the API server's
 * audit log and managedFields name kcm.
 *
 * Failures become {@linkcode K8sApiError}s carrying method, path, status
 * and the `Status` body's reason and message; a 403 carries the hint for
 * its cause (forbidden.ts). A rejected server certificate fails at once
 * with the problem named (tls_problem.ts): trying again cannot fix it.
 * 429, 5xx and other connection failures are retried (core/poll.ts, honouring Retry-After): up to
 * {@linkcode ONE_SHOT_RETRY} attempts for a one-shot command, fewer and
 * shorter ({@linkcode LOOP_RETRY}) in an `--interval` loop, whose next
 * iteration retries anyway. A 409 Conflict is retried only by callers that
 * rebuild their request (`retryOnConflict` in conflict.ts), because
 * resending the same body cannot help.
 *
 * A `Retry-After` longer than the policy's longest wait is capped (one-shot
 * commands), or, with {@linkcode ClientOptions.giveUpOnLongRetryAfter}
 * (loops), ends the call at once with the error, whose `retryAfterSeconds`
 * the loop then honours before its next request. An aborted
 * {@linkcode ClientOptions.signal} ends a request in flight and any wait,
 * and the call rejects with the abort reason.
 */

import { abortReason, errorMessage } from "../errors.ts";
import type { Logger } from "../log.ts";
import { type Clock, retry, type RetryPolicy } from "../poll.ts";
import { VERSION } from "../usage.ts";
import type { ConnectionFlags } from "../connection_flags.ts";
import {
  type ClientConfig,
  loadClientConfig,
  type ReadTextFile,
} from "./config.ts";
import { K8sApiError, K8sConfigError } from "./errors.ts";
import { forbiddenCause, forbiddenHint } from "./forbidden.ts";
import { tlsHint, tlsProblem } from "./tls_problem.ts";
import {
  buildQuery,
  ONE_SHOT_RETRY,
  RETRIED_STATUS,
  retryTransient,
  statusDetail,
} from "./request_policy.ts";

/** The User-Agent of every request. */
export const USER_AGENT = `kcm/${VERSION}`;

/** Options of one request. */
export interface RequestOptions {
  /** JSON body (serialised here). */
  readonly body?: unknown;
  /** Body media type, default `application/json`. */
  readonly contentType?: string;
  /** Query parameters; undefined values are left out. */
  readonly query?: Readonly<
    Record<string, string | number | boolean | undefined>
  >;
}

/** A connected client. */
export interface K8sClient {
  /** The namespace kcm runs in. */
  readonly namespace: string;
  /** Where the settings came from (`in-cluster ...` or a kubeconfig path). */
  readonly source: string;
  /** Sends a request and parses the JSON answer. */
  request<T = unknown>(
    method: string,
    path: string,
    options?: RequestOptions,
  ): Promise<T>;
  /** Sends a request and returns the answer as text (pod logs). */
  requestText(
    method: string,
    path: string,
    options?: RequestOptions,
  ): Promise<string>;
  /** Releases the connection pool. */
  close(): void;
}

/** Options of {@linkcode createK8sClient}. */
export interface ClientOptions {
  /** Where DEBUG lines go. */
  readonly log: Logger;
  /** Waits between attempts (the host's clock; tests give a fake one). */
  readonly clock: Clock;
  /** Retry policy, default {@linkcode ONE_SHOT_RETRY}. */
  readonly retry?: RetryPolicy;
  /** Per-attempt timeout, default 30 s (a real timer, not the clock). */
  readonly timeoutMs?: number;
  /** Random source of the backoff's jitter, default `Math.random`. */
  readonly random?: () => number;
  /**
   * Ends every request in flight and every wait between attempts when it
   * aborts; calls then reject with its reason.
   */
  readonly signal?: AbortSignal;
  /**
   * When an answer's `Retry-After` is longer than the policy's `maxMs`,
   * fail at once (the caller waits) instead of retrying after `maxMs`.
   */
  readonly giveUpOnLongRetryAfter?: boolean;
}

/**
 * Builds a client for `config`. Refuses `insecure-skip-tls-verify`:
 * Deno can only turn verification off for the whole process.
 */
export function createK8sClient(
  config: ClientConfig,
  options: ClientOptions,
): K8sClient {
  if (config.insecureSkipTlsVerify) {
    throw new K8sConfigError(
      `${config.source}: insecure-skip-tls-verify is not supported, kcm always verifies the API server certificate`,
      {
        hint:
          "give the cluster's certificate-authority or certificate-authority-data instead",
      },
    );
  }
  const policy = options.retry ?? ONE_SHOT_RETRY;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const log = options.log;
  const signal = options.signal;
  const longestWaitMs = options.giveUpOnLongRetryAfter
    ? policy.maxMs
    : Infinity;
  const tls: Deno.CreateHttpClientOptions & Partial<Deno.TlsCertifiedKeyPem> =
    {};
  if (config.caPem !== undefined) tls.caCerts = [config.caPem];
  if (config.clientCertPem !== undefined && config.clientKeyPem !== undefined) {
    tls.cert = config.clientCertPem;
    tls.key = config.clientKeyPem;
  }
  let httpClient: Deno.HttpClient;
  try {
    httpClient = Deno.createHttpClient(
      tls as Deno.CreateHttpClientOptions & Deno.TlsCertifiedKeyPem,
    );
  } catch (cause) {
    throw new K8sConfigError(
      `${config.source}: the CA or client certificate is not usable PEM`,
      { cause },
    );
  }

  /** One attempt: the response when it is OK, else a K8sApiError. */
  async function attempt(
    method: string,
    path: string,
    url: string,
    init: RequestInit,
  ): Promise<Response> {
    let response: Response;
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      response = await fetch(url, {
        ...init,
        client: httpClient,
        signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
      });
    } catch (cause) {
      if (signal?.aborted) throw abortReason(signal);
      const reason = connectionFailure(cause);
      log.debug(`${method} ${url} failed: ${reason}`);
      const tls = tlsProblem(reason);
      throw new K8sApiError({
        method,
        path,
        status: 0,
        reason: "",
        detail: tls
          ? `TLS with ${config.server} failed: ${tls.description}`
          : `cannot reach the API server at ${config.server} (${reason})`,
        tls,
      }, {
        cause,
        hint: tls
          ? tlsHint(tls, config.source)
          : `check that ${config.server} (from ${config.source}) is up`,
      });
    }
    log.debug(`${method} ${url} -> ${response.status}`);
    if (response.ok) return response;
    const text = await readBody(method, path, response);
    const { reason, detail } = statusDetail(response.status, text);
    const after = Number(response.headers.get("retry-after"));
    throw new K8sApiError(
      {
        method,
        path,
        status: response.status,
        reason,
        detail,
        retryAfterSeconds: Number.isFinite(after) && after > 0
          ? after
          : undefined,
      },
      response.status === 403
        ? { hint: forbiddenHint(forbiddenCause(detail)) }
        : RETRIED_STATUS.has(response.status)
        ? {
          hint:
            `${config.server} kept answering ${response.status} while kcm retried: try again later, or check the API server's health`,
        }
        : {},
    );
  }

  /**
   * The answer's body. An abort while reading rejects with the abort's
   * reason; any other failure to read it is a K8sApiError.
   */
  async function readBody(
    method: string,
    path: string,
    response: Response,
  ): Promise<string> {
    try {
      return await response.text();
    } catch (cause) {
      if (signal?.aborted) throw abortReason(signal);
      throw new K8sApiError({
        method,
        path,
        status: response.status,
        reason: "",
        detail: `the answer could not be read (${errorMessage(cause)})`,
      }, { cause });
    }
  }

  async function send(
    method: string,
    path: string,
    request: RequestOptions,
  ): Promise<Response> {
    const url = `${config.server}${path}${buildQuery(request.query)}`;
    const headers = new Headers({
      accept: "application/json",
      "user-agent": USER_AGENT,
    });
    if (config.token) headers.set("authorization", `Bearer ${config.token}`);
    let body: string | null = null;
    if (request.body !== undefined) {
      body = JSON.stringify(request.body);
      headers.set("content-type", request.contentType ?? "application/json");
    }
    return await retry(
      () => attempt(method, path, url, { method, headers, body }),
      {
        clock: options.clock,
        backoff: policy,
        attempts: policy.attempts,
        ...(options.random ? { random: options.random } : {}),
        ...(signal ? { signal } : {}),
        retryIf: (error) => retryTransient(error, longestWaitMs),
      },
    );
  }

  return {
    namespace: config.namespace,
    source: config.source,
    async request<T>(
      method: string,
      path: string,
      request: RequestOptions = {},
    ): Promise<T> {
      const response = await send(method, path, request);
      const text = await readBody(method, path, response);
      if (text === "") return undefined as T;
      try {
        return JSON.parse(text) as T;
      } catch (cause) {
        throw new K8sApiError({
          method,
          path,
          status: response.status,
          reason: "",
          detail: "the answer is not JSON",
        }, { cause });
      }
    },
    async requestText(
      method: string,
      path: string,
      request: RequestOptions = {},
    ): Promise<string> {
      return await readBody(method, path, await send(method, path, request));
    },
    close() {
      httpClient.close();
    },
  };
}

/**
 * The text of a failed `fetch`: its message and its causes' (Deno puts
 * the TLS or socket error in the cause of a plain "fetch failed").
 */
function connectionFailure(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 4; depth++) {
    parts.push(errorMessage(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(": ");
}

/** Reads a text file with Deno. */
function readTextFile(path: string): Promise<string> {
  return Deno.readTextFile(path);
}

/**
 * Loads the settings for `env` and the connection flags (see `config.ts`)
 * and builds a client. `read` defaults to the real file system.
 */
export async function connectK8s(
  env: Readonly<Record<string, string>>,
  options: ClientOptions & {
    readonly read?: ReadTextFile;
    readonly connection?: ConnectionFlags;
  },
): Promise<K8sClient> {
  const config = await loadClientConfig(
    env,
    options.read ?? readTextFile,
    options.connection,
  );
  options.log.debug(
    `Kubernetes API ${config.server} (settings from ${config.source}, namespace ${config.namespace})`,
  );
  return createK8sClient(config, options);
}
