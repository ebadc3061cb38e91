/**
 * `kcm webhook`: the mutating admission webhook that wires pods asking for
 * `kcm.intel.com/dataplane-cores` into `kcm isolate` (see
 * `core/webhook/mutate_pod.ts` for the mutation and `core/webhook/server.ts`
 * for the server). Serves until SIGTERM or SIGINT, then drains and exits 0.
 */

import type { Host } from "../core/host.ts";
import { UsageError } from "../core/errors.ts";
import { type WebhookOptions } from "../core/webhook/server.ts";
import {
  injectionSettings,
  WebhookSettingError,
} from "../core/webhook/settings.ts";

export type { WebhookOptions };

/**
 * Checks options that are already typed (the command line's grammar made
 * them strings and numbers): the directories as `injectionSettings` wants
 * them, both TLS files named, a port in range. Throws `UsageError`.
 */
export function parse(options: WebhookOptions): WebhookOptions {
  let settings;
  try {
    settings = injectionSettings(options.confDir, options.installDir);
  } catch (error) {
    if (error instanceof WebhookSettingError) {
      throw new UsageError(error.message);
    }
    throw error;
  }
  if (options.tlsCertFile === "" || options.tlsKeyFile === "") {
    throw new UsageError(
      "webhook needs --tls-cert=<file> and --tls-key=<file>",
    );
  }
  const { port } = options.listen;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--listen has a port out of range: ${port}`);
  }
  return { ...options, ...settings };
}

/** Runs `kcm webhook` until the host's stop signal; resolves to 0. */
export async function run(
  options: WebhookOptions,
  host: Host,
): Promise<number> {
  const { startWebhookServer } = await import("../core/webhook/server.ts");
  const server = await startWebhookServer(options, {
    signal: host.stopSignal(),
    log: host.log,
  });
  await server.finished;
  return 0;
}
