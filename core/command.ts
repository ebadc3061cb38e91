/**
 * The contract between `main.ts` and each `commands/<name>.ts` module:
 * a pure `parse` from the command line to options, and `run` with a host.
 */

import { parseCount } from "./cli.ts";
import { UsageError } from "./errors.ts";
import type { Host } from "./host.ts";
import {
  type ListenAddress,
  ListenAddressSyntaxError,
  parseListenAddress,
} from "./listen_address.ts";

/** A parsed command line of one subcommand (see `core/cli.ts`). */
export interface Invocation {
  /** Every option of the command: given value, else its default. */
  readonly options: Readonly<Record<string, string | boolean | undefined>>;
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
  /** `--heartbeat`: longest gap between writes of an unchanged report. */
  readonly heartbeatSeconds: number;
  /** `--metrics-listen`, only with `--interval`. */
  readonly metricsListen: ListenAddress | undefined;
}

/**
 * Validates `--conf-dir`, `--publish`, `--interval`, `--heartbeat` and
 * `--metrics-listen` (refused without `--interval`: a one-shot run ends
 * before anyone could scrape it).
 */
export function parseReportOptions(invocation: Invocation): ReportOptions {
  const intervalSeconds = parseCount(
    "interval",
    stringOption(invocation, "interval"),
  );
  const listen = invocation.options["metrics-listen"];
  let metricsListen: ListenAddress | undefined;
  if (typeof listen === "string") {
    if (intervalSeconds === 0) {
      throw new UsageError(
        "--metrics-listen needs --interval: a one-shot run exits before it could be scraped",
      );
    }
    try {
      metricsListen = parseListenAddress(listen);
    } catch (error) {
      if (!(error instanceof ListenAddressSyntaxError)) throw error;
      throw new UsageError(`--metrics-listen: ${error.message}`);
    }
  }
  return {
    confDir: stringOption(invocation, "conf-dir"),
    publish: invocation.options.publish === true,
    intervalSeconds,
    heartbeatSeconds: parseCount(
      "heartbeat",
      stringOption(invocation, "heartbeat"),
    ),
    metricsListen,
  };
}
