/**
 * kcm's entry point: reads argv and the environment once, loads the one
 * subcommand asked for, runs it and maps errors to exit codes. The only
 * `Deno.exit`.
 *
 * How commands load is chosen for `isolate`'s start-up (bench/README.md):
 * - `isolate` is imported statically: its small graph (no Kubernetes, no
 *   YAML) loads with main.ts's, cheaper than a dynamic import's second
 *   graph walk.
 * - Every other command is imported on demand, by a specifier computed at
 *   run time. Deno walks every statically visible import at start-up,
 *   dynamic ones included (string literals and template literals alike), so
 *   a literal `import("./commands/cluster_init.ts")` would have every run
 *   read the Kubernetes client's modules and the YAML package's metadata.
 *   `deno task compile` includes `commands/` explicitly (`--include`), as a
 *   compiled binary holds only the modules its build saw.
 */

import {
  type CommandName,
  type Invocation,
  parseCommandLine,
} from "./core/cli.ts";
import * as isolate from "./commands/isolate.ts";
import type { CommandModule } from "./core/command.ts";
import { errorMessage, KcmError, UsageError } from "./core/errors.ts";
import { createHost, type Host, writeAll } from "./core/host.ts";
import { oneLine } from "./core/quote.ts";
import { HELP, USAGE_SECTION, VERSION } from "./core/usage.ts";

/** Each command's module, as a type only: no code is loaded from here. */
type CommandModules = {
  "cluster-init": typeof import("./commands/cluster_init.ts");
  "init": typeof import("./commands/init.ts");
  "discover": typeof import("./commands/discover.ts");
  "describe": typeof import("./commands/describe.ts");
  "reconcile": typeof import("./commands/reconcile.ts");
  "isolate": typeof isolate;
  "install": typeof import("./commands/install.ts");
  "node-report": typeof import("./commands/node_report.ts");
  "uninstall": typeof import("./commands/uninstall.ts");
  "cluster-uninstall": typeof import("./commands/cluster_uninstall.ts");
  "webhook": typeof import("./commands/webhook.ts");
};

/** Where each command's module is, relative to this file. */
const MODULE_PATHS: { readonly [C in CommandName]: string } = {
  "cluster-init": "./commands/cluster_init.ts",
  "init": "./commands/init.ts",
  "discover": "./commands/discover.ts",
  "describe": "./commands/describe.ts",
  "reconcile": "./commands/reconcile.ts",
  "isolate": "./commands/isolate.ts",
  "install": "./commands/install.ts",
  "node-report": "./commands/node_report.ts",
  "uninstall": "./commands/uninstall.ts",
  "cluster-uninstall": "./commands/cluster_uninstall.ts",
  "webhook": "./commands/webhook.ts",
};

/** What main needs of each command's module. */
type Loaded = { readonly [C in CommandName]: CommandModule<C, unknown> };

/** `T`, once the type checker has seen that it is {@linkcode Loaded}. */
type Checked<T extends Loaded> = T;

/** Loads command `name`'s module (see the file comment for how). */
export async function loadCommand<C extends CommandName>(
  name: C,
): Promise<Loaded[C]> {
  if (name === "isolate") return isolate as Checked<CommandModules>[C];
  const path: string = MODULE_PATHS[name];
  return await import(path) as Checked<CommandModules>[C];
}

function describeCause(error: unknown): string {
  const lines: string[] = [];
  let current: unknown = error;
  while (current instanceof Error) {
    lines.push(current.stack ?? String(current));
    current = current.cause;
    if (current !== undefined) lines.push("caused by:");
  }
  if (current !== undefined && !(current instanceof Error)) {
    lines.push(String(current));
  }
  return lines.join("\n") + "\n";
}

/** Loads the module of the command asked for, then parses and runs it. */
async function runCommand<C extends CommandName>(
  invocation: Invocation<C>,
  host: Host,
): Promise<number> {
  const command = await loadCommand(invocation.command as C);
  return await command.run(command.parse(invocation), host);
}

/** Runs kcm with `args` and `env`; resolves to the exit status. */
export async function main(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
): Promise<number> {
  const debug = (env.KCM_LOG_LEVEL ?? "").toUpperCase() === "DEBUG";
  try {
    const line = parseCommandLine(args);
    if (line.kind === "help") {
      await writeAll(Deno.stdout, HELP + "\n");
      return 0;
    }
    if (line.kind === "version") {
      await writeAll(Deno.stdout, `KCM ${VERSION}\n`);
      return 0;
    }
    return await runCommand<CommandName>(line, createHost(env));
  } catch (error) {
    if (error instanceof KcmError) {
      // One line each, whatever the message quotes (core/quote.ts).
      let text = `kcm: error: ${oneLine(error.message)}\n`;
      if (error.hint) text += `hint: ${oneLine(error.hint)}\n`;
      if (error instanceof UsageError) text += USAGE_SECTION + "\n";
      if (debug) text += describeCause(error);
      await writeAll(Deno.stderr, text);
      return error.exitCode;
    }
    await writeAll(
      Deno.stderr,
      `kcm: internal error (a bug in kcm, please report it): ${
        oneLine(errorMessage(error))
      }\n${describeCause(error)}`,
    );
    return 70;
  }
}

/**
 * An empty module, loaded once the command is done so that Deno saves the
 * V8 code cache of the modules this run compiled. Deno 2.9 saves it only
 * once a later module loads (or a timer fires), not when a module is
 * compiled: an `isolate`, which loads nothing after its own graph and ends
 * with `Deno.exit()`, otherwise never saves it and compiles every module
 * from source on every run (5-6 ms, bench/README.md). A variable, not a
 * literal, so that Deno does not load it with the rest at start-up.
 */
const SAVE_CODE_CACHE: string = "data:text/javascript,";

if (import.meta.main) {
  const code = await main(Deno.args, Deno.env.toObject());
  try {
    await import(SAVE_CODE_CACHE);
  } catch {
    // Only the cache is lost (a runtime that cannot load it); the exit
    // code stands.
  }
  Deno.exit(code);
}
