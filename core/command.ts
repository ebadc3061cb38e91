/**
 * The contract between `main.ts` and each `commands/<name>.ts` module:
 * a pure `parse` from the command line to options, and `run` with a host.
 */

import { parseCount } from "./cli.ts";
import type { Host } from "./host.ts";

/** A parsed command line of one subcommand (see `core/cli.ts`). */
export interface Invocation {
  /** Every option of the command: given value, else its default. */
  readonly options: Readonly<Record<string, string | boolean | undefined>>;
  /** The options given on the command line (not defaulted), by full name. */
  readonly given: readonly string[];
  /** Positionals before `--`. */
  readonly positionals: readonly string[];
  /** Tokens after `--`, verbatim. */
  readonly rest: readonly string[] | undefined;
}

/** What every command module exports. */
export interface CommandModule<O> {
  /** Validates the invocation; throws `UsageError` on bad values. */
  parse(invocation: Invocation): O;
  /** Runs the command; resolves to the process exit status. */
  run(options: O, host: Host): Promise<number>;
}

/** The string value of an option that has a default or was required. */
export function stringOption(invocation: Invocation, name: string): string {
  const value = invocation.options[name];
  return typeof value === "string" ? value : "";
}

/** The options `reconcile` and `node-report` share. */
export interface ReportOptions {
  readonly confDir: string;
  readonly publish: boolean;
  readonly intervalSeconds: number;
}

/** Validates `--conf-dir`, `--publish` and `--interval`. */
export function parseReportOptions(invocation: Invocation): ReportOptions {
  return {
    confDir: stringOption(invocation, "conf-dir"),
    publish: invocation.options.publish === true,
    intervalSeconds: parseCount(
      "interval",
      stringOption(invocation, "interval"),
    ),
  };
}
