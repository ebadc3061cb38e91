/**
 * kcm's entry point: reads argv and the environment once, loads the one
 * subcommand asked for (lazily, so `isolate` never loads the Kubernetes
 * client), runs it and maps errors to exit codes. The only `Deno.exit`.
 */

import { type CommandName, parseCommandLine } from "./core/cli.ts";
import type { CommandModule } from "./core/command.ts";
import { KcmError, UsageError } from "./core/errors.ts";
import { createHost, writeAll } from "./core/host.ts";
import { HELP, USAGE_SECTION, VERSION } from "./core/usage.ts";

const LOADERS: Record<CommandName, () => Promise<CommandModule<unknown>>> = {
  "cluster-init": () => import("./commands/cluster_init.ts"),
  "init": () => import("./commands/init.ts"),
  "discover": () => import("./commands/discover.ts"),
  "describe": () => import("./commands/describe.ts"),
  "reconcile": () => import("./commands/reconcile.ts"),
  "isolate": () => import("./commands/isolate.ts"),
  "install": () => import("./commands/install.ts"),
  "node-report": () => import("./commands/node_report.ts"),
  "uninstall": () => import("./commands/uninstall.ts"),
  "cluster-uninstall": () => import("./commands/cluster_uninstall.ts"),
};

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
    const host = createHost(env);
    const command = await LOADERS[line.command]();
    return await command.run(command.parse(line), host);
  } catch (error) {
    if (error instanceof KcmError) {
      let text = `kcm: error: ${error.message}\n`;
      if (error.hint) text += `hint: ${error.hint}\n`;
      if (error instanceof UsageError) text += USAGE_SECTION + "\n";
      if (debug) text += describeCause(error);
      await writeAll(Deno.stderr, text);
      return error.exitCode;
    }
    await writeAll(
      Deno.stderr,
      `kcm: internal error (a bug in kcm, please report it): ${
        error instanceof Error ? error.message : String(error)
      }\n${describeCause(error)}`,
    );
    return 70;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args, Deno.env.toObject()));
}
