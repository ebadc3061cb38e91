/**
 * The contract between `main.ts` and each `commands/<name>.ts` module: a
 * pure `parse` from the typed command line (core/cli.ts) to the command's
 * options, and `run` with a host.
 */

import type { CommandName, Invocation } from "./cli.ts";
import { UsageError } from "./errors.ts";
import type { Host } from "./host.ts";
import {
  type ListenAddress,
  ListenAddressSyntaxError,
  parseListenAddress,
} from "./listen_address.ts";

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
  /** `--heartbeat`: longest gap between writes of an unchanged report. */
  readonly heartbeatSeconds: number;
  /** `--metrics-listen`, only with `--interval`. */
  readonly metricsListen: ListenAddress | undefined;
}

/**
 * `--conf-dir`, `--publish`, `--interval`, `--heartbeat` and
 * `--metrics-listen` of a report command; the last is refused without
 * `--interval` (a one-shot run ends before anyone could scrape it).
 */
export function reportOptions(
  invocation: Invocation<"reconcile" | "node-report">,
): ReportOptions {
  const { options } = invocation;
  const listen = options["metrics-listen"];
  let metricsListen: ListenAddress | undefined;
  if (listen !== undefined) {
    if (options.interval === 0) {
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
    confDir: options["conf-dir"],
    publish: options.publish,
    intervalSeconds: options.interval,
    heartbeatSeconds: options.heartbeat,
    metricsListen,
  };
}
