/** Small readers for the cluster commands' tests. */

import assert from "node:assert/strict";
import { type CommandLine, parseCommandLine } from "../../core/cli.ts";

/** A parsed command line that names a subcommand. */
export type CommandInvocation = Exclude<
  CommandLine,
  { kind: "help" | "version" }
>;

/** The parsed command line of `kcm <command> <args>`; it must be a command. */
export function commandLine(
  command: string,
  args: readonly string[],
): CommandInvocation {
  const line = parseCommandLine([command, ...args]);
  assert.equal(line.kind, "command");
  return line as CommandInvocation;
}

/**
 * The node table of cluster-init or cluster-uninstall's stdout, by node:
 * `result | detail` (or just `result`).
 */
export function nodeTable(stdout: string): Record<string, string> {
  const rows: Record<string, string> = {};
  for (const line of stdout.trimEnd().split("\n").slice(1)) {
    const [node, ...rest] = line.split(/\s{2,}/);
    rows[node!] = rest.join(" | ");
  }
  return rows;
}
