/**
 * A real webhook server for tests, in-process on 127.0.0.1 with a CA made
 * for the test, a logger that keeps its lines, and a client trusting the CA.
 */

import { join } from "node:path";
import { createLogger } from "../../core/log.ts";
import {
  startWebhookServer,
  type WebhookServer,
} from "../../core/webhook/server.ts";
import { makeCa, type TestCa } from "./tls.ts";

/** A started test webhook; `await using` stops it and removes its folder. */
export interface TestWebhook extends AsyncDisposable {
  readonly server: WebhookServer;
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  readonly ca: TestCa;
  readonly certFile: string;
  readonly keyFile: string;
  /** Log lines so far. */
  readonly logs: string[];
  /** Aborts the server's signal (what SIGTERM does in `kcm webhook`). */
  readonly controller: AbortController;
  /** An HTTP client trusting the test CA. */
  readonly client: Deno.HttpClient;
  /** POSTs `body` to `path` (default `/mutate`); status and parsed JSON (or text). */
  post(
    body: BodyInit,
    init?: RequestInit & { path?: string },
  ): Promise<{ status: number; body: unknown }>;
  stop(): Promise<void>;
}

/** Options of {@linkcode startTestWebhook}. */
export interface StartTestWebhookOptions {
  certCheckIntervalMs?: number;
  drainTimeoutMs?: number;
}

/** Starts the webhook on 127.0.0.1, a free port, with a fresh CA. */
export async function startTestWebhook(
  options: StartTestWebhookOptions = {},
): Promise<TestWebhook> {
  const dir = await Deno.makeTempDir({ prefix: "kcm-webhook-test-" });
  const ca = await makeCa(dir, "ca1");
  const leaf = await ca.issue("issued");
  const certFile = join(dir, "tls.crt");
  const keyFile = join(dir, "tls.key");
  await Deno.copyFile(leaf.certFile, certFile);
  await Deno.copyFile(leaf.keyFile, keyFile);
  const logs: string[] = [];
  const controller = new AbortController();
  const server = await startWebhookServer({
    confDir: "/etc/kcm",
    installDir: "/opt/bin",
    tlsCertFile: certFile,
    tlsKeyFile: keyFile,
    listen: { hostname: "127.0.0.1", port: 0 },
  }, {
    signal: controller.signal,
    log: createLogger("DEBUG", (line) => logs.push(line.trimEnd())),
    certCheckIntervalMs: options.certCheckIntervalMs ?? 60_000,
    ...(options.drainTimeoutMs === undefined
      ? {}
      : { drainTimeoutMs: options.drainTimeoutMs }),
  });
  const port = server.addr.port;
  const url = `https://127.0.0.1:${port}`;
  const client = Deno.createHttpClient({ caCerts: [ca.caPem] });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    controller.abort("test end");
    try {
      await server.finished;
    } finally {
      client.close();
      await Deno.remove(dir, { recursive: true });
    }
  };
  return {
    server,
    port,
    url,
    dir,
    ca,
    certFile,
    keyFile,
    logs,
    controller,
    client,
    async post(body, init = {}) {
      const { path = "/mutate", ...rest } = init;
      const response = await fetch(`${url}${path}`, {
        method: "POST",
        body,
        client,
        headers: { "content-type": "application/json" },
        ...rest,
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: response.status, body: parsed };
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Replaces `target` with a copy of `source` atomically (rename), as a Secret volume update does. */
export async function replaceFile(
  source: string,
  target: string,
): Promise<void> {
  const temp = `${target}.new`;
  await Deno.copyFile(source, temp);
  await Deno.rename(temp, target);
}

/** A request body stream that sends `first`, waits for `gate`, then sends `rest`. */
export function gatedBody(
  first: string,
  gate: Promise<void>,
  rest: string,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    async start(controller) {
      controller.enqueue(encoder.encode(first));
      await gate;
      controller.enqueue(encoder.encode(rest));
      controller.close();
    },
  });
}
