/** Small readers for the cluster commands' tests. */

import assert from "node:assert/strict";
import {
  type CommandName,
  type Invocation,
  parseCommandLine,
} from "../../core/cli.ts";

/** The parsed command line of `kcm <command> <args>`; it must be a command. */
export function commandLine<C extends CommandName>(
  command: C,
  args: readonly string[],
): Invocation<C> {
  const line = parseCommandLine([command, ...args]);
  assert.ok(line.kind === "command" && line.command === command);
  return line as Invocation<C>;
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
