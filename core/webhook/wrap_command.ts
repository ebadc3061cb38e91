/**
 * The command of a wrapped container: `kcm isolate` in front of the
 * container's own command and arguments, and the test for a command that
 * already runs `kcm isolate`. Pure.
 */

import { baseName, joinPath } from "../paths.ts";
import type { InjectionSettings } from "./mutate_pod.ts";

/** True when `command` already runs `kcm isolate` (by any path to kcm). */
export function isWrapped(command: readonly string[]): boolean {
  return command.length >= 2 && baseName(command[0]!) === "kcm" &&
    command[1] === "isolate";
}

/**
 * The argv of a wrapped container: `<install-dir>/kcm isolate
 * --conf-dir=<dir> --pool=<pool> <command[0]> -- <command[1:]> <args>`.
 * `isolate` drops the one `--` right after its command, so the container's
 * own words, a `--` among them, reach the program as they are. A program
 * name starting with `-` would read as an option: it goes after a `--` of
 * its own (`-- <command[0]> -- ...`). `command` must not be empty.
 *
 * @example
 * ```ts
 * import { wrapCommand } from "./wrap_command.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(
 *   wrapCommand(["/bin/fwd", "-c"], ["x"], "dataplane", {
 *     confDir: "/etc/kcm",
 *     installDir: "/opt/bin",
 *   }),
 *   [
 *     "/opt/bin/kcm", "isolate", "--conf-dir=/etc/kcm", "--pool=dataplane",
 *     "/bin/fwd", "--", "-c", "x",
 *   ],
 * );
 * ```
 */
export function wrapCommand(
  command: readonly string[],
  args: readonly string[],
  pool: string,
  settings: InjectionSettings,
): string[] {
  const [program = "", ...rest] = command;
  const head = [
    joinPath(settings.installDir, "kcm"),
    "isolate",
    `--conf-dir=${settings.confDir}`,
    `--pool=${pool}`,
  ];
  return program.startsWith("-") && program !== "-"
    ? [...head, "--", program, "--", ...rest, ...args]
    : [...head, program, "--", ...rest, ...args];
}
