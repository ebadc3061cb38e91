/**
 * The contract between `main.ts` and each `commands/<name>.ts` module: a
 * pure `parse` from the typed command line (core/cli.ts) to the command's
 * options, and `run` with a host.
 */

import type { CommandName, Invocation } from "./cli.ts";
import type { Host } from "./host.ts";

export type { Invocation } from "./cli.ts";

/** What the module of command `C` exports. */
export interface CommandModule<C extends CommandName, O> {
  /** Checks what the types cannot; throws `UsageError` on bad values. */
  parse(invocation: Invocation<C>): O;
  /** Runs the command; resolves to the process exit status. */
  run(options: O, host: Host): Promise<number>;
}

/** The options `reconcile` and `node-report` share. */
export interface ReportOptions {
  readonly confDir: string;
  readonly publish: boolean;
  readonly intervalSeconds: number;
}

/** `--conf-dir`, `--publish` and `--interval` of a report command. */
export function reportOptions(
  invocation: Invocation<"reconcile" | "node-report">,
): ReportOptions {
  return {
    confDir: invocation.options["conf-dir"],
    publish: invocation.options.publish,
    intervalSeconds: invocation.options.interval,
  };
}
