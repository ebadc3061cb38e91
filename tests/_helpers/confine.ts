/**
 * Running a test's case where root's powers do not apply, since the suite
 * runs as root and root may write a 0444 file or a 0555 directory:
 * - {@linkcode readOnlyMount}: a private mount namespace in which one
 *   directory is bind-mounted read-only over itself (writes fail EROFS);
 * - {@linkcode tinyTmpfs}: a private mount namespace with a small tmpfs at a
 *   directory (writes fail ENOSPC once it is full);
 * - {@linkcode AS_NOBODY}: uid and gid 65534 with no supplementary groups.
 * Each is an argv prefix for {@linkcode runArgv}. Mounts made inside
 * `unshare --mount` vanish with the process, whatever happens to the test.
 *
 * {@linkcode skipUnless} gives a test's `ignore` flag and prints why when
 * the machine cannot confine (not root, no util-linux), so no skip hides.
 */

import { type CliResult, MAIN_TS, REPO_ROOT } from "./run_cli.ts";

/** setpriv(1) to uid/gid 65534 (nobody) without supplementary groups. */
export const AS_NOBODY: readonly string[] = [
  "setpriv",
  "--reuid=65534",
  "--regid=65534",
  "--clear-groups",
];

/** Prefix: `dir` read-only in a private mount namespace. */
export function readOnlyMount(dir: string): string[] {
  return [
    "unshare",
    "--mount",
    "sh",
    "-c",
    'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" && exec "$@"',
    dir,
  ];
}

/** Prefix: a tmpfs of `size` (e.g. `64k`) at `dir`, in a private namespace. */
export function tinyTmpfs(dir: string, size: string): string[] {
  return [
    "unshare",
    "--mount",
    "sh",
    "-c",
    `mount -t tmpfs -o size=${size} none "$0" && exec "$@"`,
    dir,
  ];
}

/** argv running kcm from source, as tests/_helpers/run_cli.ts does. */
export function kcmArgv(args: readonly string[]): string[] {
  return [Deno.execPath(), "run", "--quiet", "--allow-all", MAIN_TS, ...args];
}

/**
 * argv evaluating a TypeScript module body; it may import kcm's modules as
 * `@kcm/<path>` (e.g. `@kcm/core/atomic_write.ts`).
 */
export function evalArgv(code: string): string[] {
  const source = code.replaceAll('"@kcm/', `"file://${REPO_ROOT}/`);
  return [Deno.execPath(), "eval", "--quiet", "--ext=ts", source];
}

/** Runs `argv` to completion from the repository root, output collected. */
export async function runArgv(
  argv: readonly string[],
  env: Record<string, string> = {},
): Promise<CliResult> {
  const [command, ...args] = argv;
  const out = await new Deno.Command(command!, {
    args,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...env },
    cwd: REPO_ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    signal: out.signal,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

async function probe(argv: string[]): Promise<boolean> {
  try {
    return (await runArgv(argv)).code === 0;
  } catch {
    return false; // the tool is not installed
  }
}

const probeDir = await Deno.makeTempDir({ prefix: "kcm-confine-probe-" });
/** Why this machine cannot confine, or undefined when it can. */
export const cannotConfine: string | undefined = Deno.uid() !== 0
  ? "needs root (unshare --mount, setpriv)"
  : !(await probe([...readOnlyMount(probeDir), "true"]))
  ? "unshare --mount with a read-only bind mount failed"
  : !(await probe([...tinyTmpfs(probeDir, "64k"), "true"]))
  ? "unshare --mount with a tmpfs failed"
  : !(await probe([...AS_NOBODY, "true"]))
  ? "setpriv to uid 65534 failed"
  : undefined;
await Deno.remove(probeDir);

/**
 * The `ignore` flag of test `name`: true, with the reason printed, when
 * `reason` is defined. CI (.ci/run) lists these lines with the skip count.
 */
export function skipUnless(name: string, reason: string | undefined): boolean {
  if (reason === undefined) return false;
  // deno-lint-ignore no-console -- a skipped test says why, in the test log
  console.log(`SKIP: ${name}: ${reason}`);
  return true;
}
