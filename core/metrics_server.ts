/**
 * The `/metrics` endpoint of kcm's daemons (`--metrics-listen`): a small
 * HTTP server that answers Prometheus scrapes with the text format.
 *
 * Side effects: listens on the given address with `Deno.serve` until the
 * signal aborts; before each scrape, calls `collect` (which refreshes the
 * process metrics).
 *
 * Paths: `GET /metrics` (also HEAD) the metrics; `GET /healthz` `ok`, for a
 * liveness probe; anything else 404, other methods 405.
 */

import { KcmError, osErrorCode, osErrorReason } from "./errors.ts";
import { formatListenAddress, type ListenAddress } from "./listen_address.ts";
import { PROMETHEUS_CONTENT_TYPE } from "./metrics.ts";

/** The metrics server cannot listen: the address is taken, not local, ... */
export class MetricsListenError extends KcmError {
  /** The address asked for. */
  readonly address: ListenAddress;
  /** The errno name (`"EADDRINUSE"`, `"EADDRNOTAVAIL"`, `"EACCES"`), if any. */
  readonly code: string | undefined;

  constructor(address: ListenAddress, cause: unknown) {
    const code = osErrorCode(cause);
    super(
      `Cannot serve metrics on ${formatListenAddress(address)}: ${
        code === "EADDRINUSE"
          ? "address already in use"
          : code === "EADDRNOTAVAIL"
          ? "not an address of this machine"
          : osErrorReason(cause)
      }`,
      1,
      {
        cause,
        hint: code === "EADDRINUSE"
          ? "choose another port with --metrics-listen, or stop the process that holds this one"
          : "give --metrics-listen an address of this machine, e.g. 0.0.0.0:9100",
      },
    );
    this.address = address;
    this.code = code;
  }
}

/** Options of {@linkcode serveMetrics}. */
export interface ServeMetricsOptions {
  /** Stops the server when aborted. */
  readonly signal: AbortSignal;
  /** The exposition text, rendered per scrape. */
  readonly render: () => string;
  /** Refreshes values before rendering (process metrics); errors give 500. */
  readonly collect?: () => Promise<void>;
}

/** A running metrics server. */
export interface MetricsServer {
  /** The address it listens on, with the port the system picked for 0. */
  readonly address: ListenAddress;
  /** Resolves once the server has stopped. */
  readonly finished: Promise<void>;
}

/**
 * Starts serving at `address`. Throws {@linkcode MetricsListenError} at once
 * when the address cannot be bound, so a daemon fails at start, not later.
 */
export function serveMetrics(
  address: ListenAddress,
  options: ServeMetricsOptions,
): MetricsServer {
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: address.hostname,
      port: address.port,
      signal: options.signal,
      onListen() {},
    }, async (request) => {
      const path = new URL(request.url).pathname;
      if (path !== "/metrics" && path !== "/healthz") {
        return new Response("not found\n", { status: 404 });
      }
      if (request.method !== "GET" && request.method !== "HEAD") {
        return new Response("method not allowed\n", {
          status: 405,
          headers: { allow: "GET, HEAD" },
        });
      }
      if (path === "/healthz") return new Response("ok\n");
      try {
        await options.collect?.();
      } catch (error) {
        return new Response(
          `cannot collect metrics: ${osErrorReason(error)}\n`,
          {
            status: 500,
          },
        );
      }
      return new Response(
        request.method === "HEAD" ? null : options.render(),
        { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } },
      );
    });
  } catch (cause) {
    throw new MetricsListenError(address, cause);
  }
  return {
    address: { hostname: address.hostname, port: server.addr.port },
    finished: server.finished,
  };
}
