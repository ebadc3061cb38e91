/**
 * Runs kcm from source as a user would: `deno run --allow-all main.ts`,
 * in its own process, with an environment the test controls.
 */

import { fileURLToPath } from "node:url";

/** The repository root. */
export const REPO_ROOT: string = fileURLToPath(
  new URL("../../", import.meta.url),
)
  .replace(/\/$/, "");

/** The entry point tests run. */
export const MAIN_TS = `${REPO_ROOT}/main.ts`;

/** What a finished kcm run left behind. */
export interface CliResult {
  readonly code: number;
  readonly signal: Deno.Signal | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options for {@linkcode runKcm} and {@linkcode spawnKcm}. */
export interface RunOptions {
  /** Added to (or, with `clearEnv`, instead of) the test's environment. */
  readonly env?: Record<string, string>;
  readonly clearEnv?: boolean;
  readonly cwd?: string;
  readonly stdin?: string;
}

function command(args: readonly string[], options: RunOptions, piped: boolean) {
  const env: Record<string, string> = {
    NO_COLOR: "1",
    DENO_NO_UPDATE_CHECK: "1",
    ...(options.clearEnv
      ? { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" }
      : {}),
    ...options.env,
  };
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--allow-all", MAIN_TS, ...args],
    env,
    clearEnv: options.clearEnv ?? false,
    cwd: options.cwd ?? REPO_ROOT,
    stdin: piped && options.stdin !== undefined ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Runs kcm to completion and collects its output. */
export async function runKcm(
  args: readonly string[],
  options: RunOptions = {},
): Promise<CliResult> {
  const child = command(args, options, true).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  return await finish(child);
}

/** Starts kcm and returns the running process (stdout/stderr piped). */
export function spawnKcm(
  args: readonly string[],
  options: RunOptions = {},
): Deno.ChildProcess {
  return command(args, options, false).spawn();
}

/** Collects a spawned kcm's result. */
export async function finish(child: Deno.ChildProcess): Promise<CliResult> {
  const out = await child.output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    signal: out.signal,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

/**
 * Runs any executable (an installed or compiled kcm) from `/` with
 * `NO_COLOR=1` and collects its output.
 */
export async function runFile(
  path: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<CliResult> {
  const out = await new Deno.Command(path, {
    args: [...args],
    env: { NO_COLOR: "1", ...env },
    cwd: "/",
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
