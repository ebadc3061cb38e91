/**
 * The contract between `main.ts` and each `commands/<name>.ts` module: a
 * pure `parse` from the typed command line (core/cli.ts) to the command's
 * options, and `run` with a host.
 */

import type { CommandName, Invocation } from "./cli.ts";
import { type ConnectionFlags, connectionFlags } from "./connection_flags.ts";
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
  /** Where `--publish` connects; the flags only with `--publish`. */
  readonly connection: ConnectionFlags;
}

/**
 * `--conf-dir`, `--publish`, `--interval`, `--heartbeat`,
 * `--metrics-listen` and the connection options of a report command.
 * `--metrics-listen` is refused without `--interval` (a one-shot run ends
 * before anyone could scrape it), the connection options without
 * `--publish` (nothing would connect).
 */
export function reportOptions(
  invocation: Invocation<"reconcile" | "node-report">,
): ReportOptions {
  const { options, given } = invocation;
  const connecting = (["kubeconfig", "context", "insecure-http"] as const)
    .filter((name) => given.has(name));
  if (connecting.length > 0 && !options.publish) {
    throw new UsageError(
      `--${
        connecting[0]
      } needs --publish: without it nothing connects to the API server`,
    );
  }
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
    connection: connectionFlags(options),
  };
}
