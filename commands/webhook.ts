/**
 * `kcm webhook`: the mutating admission webhook that wires pods asking for
 * `kcm.intel.com/dataplane-cores` into `kcm isolate` (see
 * `core/webhook/mutate_pod.ts` for the mutation and `core/webhook/server.ts`
 * for the server). Serves until SIGTERM or SIGINT, then drains and exits 0.
 */

import type { Invocation } from "../core/command.ts";
import { UsageError } from "../core/errors.ts";
import type { Host } from "../core/host.ts";
import {
  ListenAddressSyntaxError,
  parseListenAddress,
} from "../core/listen_address.ts";
import type { WebhookOptions } from "../core/webhook/server.ts";
import {
  injectionSettings,
  WebhookSettingError,
} from "../core/webhook/settings.ts";

export type { WebhookOptions };

/**
 * Checks what the grammar could not: the directories as
 * `injectionSettings` wants them (absolute, distinct, not under /proc),
 * both TLS files named, `--listen` an `<addr>:<port>`. Throws `UsageError`.
 */
export function parse(invocation: Invocation<"webhook">): WebhookOptions {
  const { options } = invocation;
  const cert = options["tls-cert"];
  const key = options["tls-key"];
  if (cert === undefined || cert === "" || key === undefined || key === "") {
    throw new UsageError(
      "webhook needs --tls-cert=<file> and --tls-key=<file>",
    );
  }
  try {
    return {
      ...injectionSettings(options["conf-dir"], options["install-dir"]),
      tlsCertFile: cert,
      tlsKeyFile: key,
      listen: parseListenAddress(options.listen),
    };
  } catch (error) {
    if (error instanceof WebhookSettingError) {
      throw new UsageError(error.message);
    }
    if (error instanceof ListenAddressSyntaxError) {
      throw new UsageError(`--listen: ${error.message}`);
    }
    throw error;
  }
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
