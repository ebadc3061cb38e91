/**
 * A small JSON client for the Kubernetes API on plain `fetch`, with TLS
 * always verified against the configured CA (Deno.createHttpClient).
 *
 * Side effects: HTTPS requests to the configured server; DEBUG log lines
 * naming method, URL and status (never a header, so never the token).
 *
 * Failures become {@linkcode K8sApiError}s carrying the `Status` body's
 * reason and message. 429, 5xx and connection failures are retried with
 * exponential backoff: up to {@linkcode ONE_SHOT_RETRY} attempts for a
 * one-shot command, fewer and shorter ({@linkcode LOOP_RETRY}) in an
 * `--interval` loop, whose next iteration retries anyway. A 409 Conflict is
 * retried only by callers that rebuild their request
 * ({@linkcode retryOnConflict}), because resending the same body cannot help.
 */

import type { Logger } from "../log.ts";
import {
  type ClientConfig,
  loadClientConfig,
  type ReadTextFile,
} from "./config.ts";
import { K8sApiError, K8sConfigError } from "./errors.ts";
import { pause } from "../repeat.ts";

/** How often and how patiently a request is retried. */
export interface RetryPolicy {
  /** Total attempts, the first one included. */
  readonly attempts: number;
  /** Delay before the second attempt; doubled each time. */
  readonly baseDelayMs: number;
  /** Cap of one delay. */
  readonly maxDelayMs: number;
}

/** One-shot commands: 6 attempts over about 8 s. */
export const ONE_SHOT_RETRY: RetryPolicy = {
  attempts: 6,
  baseDelayMs: 250,
  maxDelayMs: 4000,
};

/** `--interval` loops: 3 attempts over about 1.5 s; the loop retries later. */
export const LOOP_RETRY: RetryPolicy = {
  attempts: 3,
  baseDelayMs: 500,
  maxDelayMs: 1000,
};

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
  /** Retry policy, default {@linkcode ONE_SHOT_RETRY}. */
  readonly retry?: RetryPolicy;
  /** Per-attempt timeout, default 30 s. */
  readonly timeoutMs?: number;
  /** Sleep used between attempts (tests shorten it). */
  readonly sleep?: (ms: number) => Promise<void>;
}

const RETRIED_STATUS = new Set([429, 500, 502, 503, 504]);

interface StatusBody {
  reason?: unknown;
  message?: unknown;
}

function statusDetail(status: number, text: string): {
  reason: string;
  detail: string;
} {
  try {
    const body = JSON.parse(text) as StatusBody;
    if (typeof body === "object" && body !== null) {
      return {
        reason: typeof body.reason === "string" ? body.reason : "",
        detail: typeof body.message === "string"
          ? body.message
          : `HTTP ${status}`,
      };
    }
  } catch {
    // Not a Status object: fall through to the raw text.
  }
  const line = text.trim().split("\n")[0]?.slice(0, 200) ?? "";
  return { reason: "", detail: line || `HTTP ${status}` };
}

function buildQuery(query: RequestOptions["query"]): string {
  if (query === undefined) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) params.set(key, String(value));
  }
  const text = params.toString();
  return text === "" ? "" : `?${text}`;
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
  const retry = options.retry ?? ONE_SHOT_RETRY;
  const sleep = options.sleep ?? pause;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const log = options.log;
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

  async function send(
    method: string,
    path: string,
    request: RequestOptions,
  ): Promise<Response> {
    const url = `${config.server}${path}${buildQuery(request.query)}`;
    const headers = new Headers({ accept: "application/json" });
    if (config.token) headers.set("authorization", `Bearer ${config.token}`);
    let body: string | undefined;
    if (request.body !== undefined) {
      body = JSON.stringify(request.body);
      headers.set("content-type", request.contentType ?? "application/json");
    }
    for (let attempt = 1;; attempt++) {
      let response: Response;
      try {
        response = await fetch(url, {
          method,
          headers,
          body: body ?? null,
          client: httpClient,
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (cause) {
        const reason = cause instanceof Error ? cause.message : String(cause);
        log.debug(`${method} ${url} failed: ${reason}`);
        if (attempt < retry.attempts) {
          await sleep(delay(attempt));
          continue;
        }
        throw new K8sApiError({
          method,
          path,
          status: 0,
          reason: "",
          detail: `cannot reach the API server at ${config.server} (${reason})`,
        }, {
          cause,
          hint: `check that ${config.server} (from ${config.source}) is up`,
        });
      }
      log.debug(`${method} ${url} -> ${response.status}`);
      if (response.ok) return response;
      const text = await response.text();
      if (RETRIED_STATUS.has(response.status) && attempt < retry.attempts) {
        const after = Number(response.headers.get("retry-after"));
        await sleep(
          Number.isFinite(after) && after > 0
            ? Math.min(after * 1000, retry.maxDelayMs)
            : delay(attempt),
        );
        continue;
      }
      const { reason, detail } = statusDetail(response.status, text);
      throw new K8sApiError({
        method,
        path,
        status: response.status,
        reason,
        detail,
      });
    }
  }

  function delay(attempt: number): number {
    const base = Math.min(
      retry.baseDelayMs * 2 ** (attempt - 1),
      retry.maxDelayMs,
    );
    return base / 2 + Math.random() * base / 2;
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
      const text = await response.text();
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
      return await (await send(method, path, request)).text();
    },
    close() {
      httpClient.close();
    },
  };
}

/** Reads a text file with Deno. */
export function readTextFile(path: string): Promise<string> {
  return Deno.readTextFile(path);
}

/**
 * Loads the settings for `env` (see `config.ts`) and builds a client.
 * `read` defaults to the real file system.
 */
export async function connectK8s(
  env: Readonly<Record<string, string>>,
  options: ClientOptions & { readonly read?: ReadTextFile },
): Promise<K8sClient> {
  const config = await loadClientConfig(env, options.read ?? readTextFile);
  options.log.debug(
    `Kubernetes API ${config.server} (settings from ${config.source}, namespace ${config.namespace})`,
  );
  return createK8sClient(config, options);
}

/**
 * Runs `attempt` until it does not fail with 409 Conflict, at most
 * `attempts` times with a short random backoff. `attempt` must re-read
 * what it modifies, so each try sends a fresh body.
 */
export async function retryOnConflict<T>(
  attempt: () => Promise<T>,
  options: {
    readonly attempts?: number;
    readonly sleep?: (ms: number) => Promise<void>;
    readonly log?: Logger;
  } = {},
): Promise<T> {
  const attempts = options.attempts ?? 8;
  const sleep = options.sleep ?? pause;
  for (let i = 1;; i++) {
    try {
      return await attempt();
    } catch (error) {
      if (
        !(error instanceof K8sApiError) || error.status !== 409 ||
        i >= attempts
      ) {
        throw error;
      }
      options.log?.debug(`Conflict on ${error.path}, retrying (${i})`);
      await sleep(50 + Math.random() * 100 * i);
    }
  }
}

/** True for a K8sApiError with status `status`. */
export function isStatus(error: unknown, status: number): boolean {
  return error instanceof K8sApiError && error.status === status;
}
