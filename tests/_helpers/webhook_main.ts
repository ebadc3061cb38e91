/**
 * Runs `kcm webhook` the way `main.ts` will once the command is registered:
 * `deno run --allow-all tests/_helpers/webhook_main.ts <conf-dir>
 * <install-dir> <tls-cert> <tls-key> <listen>`; exits with `run()`'s status
 * (1 with one `kcm: error:` line when it throws a KcmError).
 */

import { parse, run } from "../../commands/webhook.ts";
import { KcmError } from "../../core/errors.ts";
import { createHost } from "../../core/host.ts";
import { parseListenAddress } from "../../core/webhook/settings.ts";

const [
  confDir = "",
  installDir = "",
  tlsCertFile = "",
  tlsKeyFile = "",
  listen = "",
] = Deno.args;
try {
  const options = parse({
    confDir,
    installDir,
    tlsCertFile,
    tlsKeyFile,
    listen: parseListenAddress(listen),
  });
  Deno.exit(await run(options, createHost(Deno.env.toObject())));
} catch (error) {
  if (!(error instanceof KcmError)) throw error;
  await Deno.stderr.write(
    new TextEncoder().encode(`kcm: error: ${error.message}\n`),
  );
  Deno.exit(error.exitCode);
}
