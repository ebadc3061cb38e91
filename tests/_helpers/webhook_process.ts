/**
 * `kcm webhook` as a user runs it: `deno run main.ts webhook` in its own
 * process on 127.0.0.1 and a free port, its standard error collected, and
 * stopped with SIGTERM.
 */

import assert from "node:assert/strict";
import { spawnKcm } from "./run_cli.ts";

/** A running `kcm webhook`; `await using` stops it (SIGTERM) if still running. */
export interface WebhookProcess extends AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly port: number;
  /** `https://127.0.0.1:<port>` */
  readonly url: string;
  /** Its standard error so far (one log line per admission at DEBUG). */
  stderr(): string;
  /** Sends SIGTERM (once) and resolves to its exit status and whole stderr. */
  stop(): Promise<{ code: number; stderr: string }>;
}

/** Options of {@linkcode startWebhookProcess}. */
export interface WebhookProcessOptions {
  readonly certFile: string;
  readonly keyFile: string;
  /** More flags (`--conf-dir=...`, `--install-dir=...`). */
  readonly flags?: readonly string[];
  /** Default `KCM_LOG_LEVEL=DEBUG`. */
  readonly env?: Record<string, string>;
}

/**
 * Starts `kcm webhook --listen=127.0.0.1:0` and waits for its "listening
 * on" line (at most 60 s), which names the port the system picked.
 */
export async function startWebhookProcess(
  options: WebhookProcessOptions,
): Promise<WebhookProcess> {
  const child = spawnKcm([
    "webhook",
    `--tls-cert=${options.certFile}`,
    `--tls-key=${options.keyFile}`,
    "--listen=127.0.0.1:0",
    ...options.flags ?? [],
  ], { env: options.env ?? { KCM_LOG_LEVEL: "DEBUG" } });
  void child.stdout.cancel();
  let text = "";
  const drained = (async () => {
    const decoded = child.stderr.pipeThrough(new TextDecoderStream());
    for await (const chunk of decoded) text += chunk;
  })();
  let exited = false;
  const status = child.status.finally(() => exited = true);
  const deadline = Date.now() + 60_000;
  let port: number | undefined;
  while (port === undefined) {
    const match = /listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(text);
    if (match) {
      port = Number(match[1]);
      break;
    }
    assert.ok(!exited, `kcm webhook exited before listening:\n${text}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await status;
      assert.fail(`kcm webhook did not listen within 60 s:\n${text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  let stopping: Promise<{ code: number; stderr: string }> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      if (!exited) child.kill("SIGTERM");
      const { code } = await status;
      await drained;
      return { code, stderr: text };
    })();
    return stopping;
  };
  return {
    child,
    port,
    url: `https://127.0.0.1:${port}`,
    stderr: () => text,
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
}
