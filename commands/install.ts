/**
 * `kcm install`: put a runnable `kcm` into the install directory.
 *
 * A compiled kcm (`deno task compile`) copies its own executable to
 * `<install-dir>/kcm`; kcm run from source writes a launcher there that
 * runs this checkout's `main.ts` with the same Deno. Either way the file
 * is mode 0755 and replaced atomically, so installing over a running kcm
 * works and a failure leaves nothing half-written.
 */

import type { Invocation } from "../core/command.ts";
import { KcmError, UsageError } from "../core/errors.ts";
import type { Host } from "../core/host.ts";
import {
  installBinary,
  installLauncher,
  type RunningKcm,
  runningKcm,
} from "../core/install.ts";

/** Options of `kcm install`. */
export interface InstallOptions {
  readonly installDir: string;
}

/** Validates `install`'s flags. */
export function parse(invocation: Invocation<"install">): InstallOptions {
  const installDir = invocation.options["install-dir"];
  if (installDir === "") {
    throw new UsageError("--install-dir must not be empty");
  }
  return { installDir };
}

/** Installs the kcm described by `kcm` into `dir`; returns the new path. */
export function installKcm(kcm: RunningKcm, dir: string): Promise<string> {
  if (kcm.standalone) return installBinary(kcm.execPath, dir);
  if (kcm.mainPath === undefined) {
    return Promise.reject(
      new KcmError(
        "Cannot install kcm: it is not running from a local checkout",
        1,
        { hint: "run `deno task compile` and install from the binary" },
      ),
    );
  }
  return installLauncher(
    { denoPath: kcm.execPath, mainPath: kcm.mainPath },
    dir,
  );
}

/** Runs `kcm install`. */
export async function run(
  options: InstallOptions,
  host: Host,
): Promise<number> {
  const kcm = runningKcm();
  const path = await installKcm(kcm, options.installDir);
  host.log.debug(
    kcm.standalone
      ? `Copied ${kcm.execPath} to ${path}`
      : `Wrote a launcher for ${kcm.mainPath} to ${path}`,
  );
  host.log.info(`Installed kcm to ${options.installDir}`);
  return 0;
}
