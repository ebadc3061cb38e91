/**
 * An HTTPS proxy in front of the test control plane's kube-apiserver, for
 * faults the real server will not produce on demand: it records every
 * request, and can refuse connections (an outage), hold requests without
 * answering (a frozen server) or answer for the server (429 with
 * Retry-After, 500). It serves the control plane's own certificate, so kcm
 * connects to it with the cluster CA as if it were the API server.
 *
 * Listens on 127.0.0.1 only; `close()` (or `await using`) stops it and
 * answers held requests with 503 first.
 */

import type { ControlPlane } from "../k8s/testenv.ts";

/** One request the proxy saw. */
export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  /** `performance.now()` when it arrived. */
  readonly atMs: number;
  /** What the proxy answered (0: held until closed or thawed). */
  status: number;
}

/**
 * What the proxy does with a request: forward it (`undefined`), answer it
 * (a Response), or hold it without an answer (`"freeze"`).
 */
export type Fault = (
  request: Request,
  path: string,
) => Response | "freeze" | undefined;

/** A running proxy. */
export interface ApiProxy extends AsyncDisposable {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** Every request so far, in arrival order. */
  readonly requests: SeenRequest[];
  /** Sets (or clears with undefined) the fault applied to each request. */
  fault(fault: Fault | undefined): void;
  /** Stops listening: new connections are refused (an outage). */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): void;
  /** Stops for good. */
  close(): Promise<void>;
}

/** Starts a proxy to `cp`'s API server. */
export async function startApiProxy(cp: ControlPlane): Promise<ApiProxy> {
  const [cert, key] = await Promise.all([
    Deno.readTextFile(`${cp.dir}/server.crt`),
    Deno.readTextFile(`${cp.dir}/server.key`),
  ]);
  const client = Deno.createHttpClient({ caCerts: [cp.caPem] });
  const requests: SeenRequest[] = [];
  let fault: Fault | undefined;
  let thaw: (() => void) | undefined;
  let thawed = Promise.resolve();
  const freeze = () => {
    if (thaw === undefined) thawed = new Promise((r) => (thaw = r));
  };
  const unfreeze = () => {
    thaw?.();
    thaw = undefined;
  };
  let port = 0;
  let server: Deno.HttpServer<Deno.NetAddr> | undefined;
  let stopper: AbortController | undefined;

  const handler = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const seen: SeenRequest = {
      method: request.method,
      path: url.pathname,
      atMs: performance.now(),
      status: 0,
    };
    requests.push(seen);
    const decided = fault?.(request, url.pathname);
    if (decided === "freeze") {
      freeze();
      await thawed;
      seen.status = 503;
      return new Response("proxy closed", { status: 503 });
    }
    if (decided !== undefined) {
      seen.status = decided.status;
      return decided;
    }
    const headers = new Headers(request.headers);
    headers.delete("host");
    const body = request.body ? await request.arrayBuffer() : undefined;
    try {
      const answer = await fetch(`${cp.url}${url.pathname}${url.search}`, {
        method: request.method,
        headers,
        client,
        ...(body ? { body } : {}),
      });
      seen.status = answer.status;
      return new Response(await answer.arrayBuffer(), {
        status: answer.status,
        headers: answer.headers,
      });
    } catch (error) {
      seen.status = 502;
      return new Response(String(error), { status: 502 });
    }
  };

  const up = () => {
    stopper = new AbortController();
    server = Deno.serve({
      hostname: "127.0.0.1",
      port,
      cert,
      key,
      signal: stopper.signal,
      onListen() {},
    }, handler);
    port = server.addr.port;
  };
  const down = async () => {
    unfreeze();
    stopper?.abort();
    await server?.finished;
    server = undefined;
  };
  up();
  const close = async () => {
    fault = undefined;
    await down();
    client.close();
  };
  return {
    get port() {
      return port;
    },
    requests,
    fault(next) {
      fault = next;
      if (next === undefined) unfreeze();
    },
    down,
    up,
    close,
    [Symbol.asyncDispose]: close,
  };
}
