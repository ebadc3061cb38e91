/**
 * Measuring helpers for the benchmarks: medians and percentiles, timing a
 * command from spawn to exit, and running several contenders in turns
 * (ABAB...) so that machine noise falls on all of them alike.
 */

/** The value below which `p` (0-100) percent of `samples` fall (nearest rank). */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** The median of `samples` (mean of the middle two for an even count). */
export function median(samples: readonly number[]): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? sorted[mid]!
    : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Milliseconds with a precision that suits their size. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "n/a";
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

/** How to run one timed command. */
export interface TimedCommand {
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

/** Output of a timed run. */
export interface TimedResult {
  readonly ms: number;
  readonly stdout: string;
}

const decoder = new TextDecoder();

/**
 * Runs a command to completion and returns its wall time in milliseconds,
 * from just before the spawn to the moment its exit is seen. Fails when
 * the command exits non-zero, with what it printed on stderr.
 */
export async function timeCommand(spec: TimedCommand): Promise<TimedResult> {
  const start = performance.now();
  const output = await new Deno.Command(spec.command, {
    args: [...spec.args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(spec.env === undefined ? {} : { env: { ...spec.env } }),
    ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
  }).output();
  const ms = performance.now() - start;
  if (!output.success) {
    throw new Error(
      `${spec.command} ${spec.args.join(" ")} exited with ${output.code}: ${
        decoder.decode(output.stderr).slice(0, 2000)
      }`,
    );
  }
  return { ms, stdout: decoder.decode(output.stdout) };
}

/** One contender: called once per round, resolves to one sample. */
export type Contender = () => Promise<number>;

/** Options of {@linkcode interleave}. */
export interface InterleaveOptions {
  /** Rounds whose samples are thrown away (cache warm-up). */
  readonly warmup?: number;
  /** Called before each sample (not timed), e.g. to rebuild a fixture. */
  readonly before?: (name: string) => Promise<void>;
}

/**
 * Runs every contender once per round for `rounds` rounds, alternating the
 * order each round (A B, B A, A B ...) so neither always runs first.
 * Returns the samples of each contender.
 */
export async function interleave(
  rounds: number,
  contenders: Readonly<Record<string, Contender>>,
  options: InterleaveOptions = {},
): Promise<Record<string, number[]>> {
  const names = Object.keys(contenders);
  const samples: Record<string, number[]> = {};
  for (const name of names) samples[name] = [];
  const warmup = options.warmup ?? 1;
  for (let round = 0; round < warmup + rounds; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      await options.before?.(name);
      const value = await contenders[name]!();
      if (round >= warmup) samples[name]!.push(value);
    }
  }
  return samples;
}

/** The path of a file of this repository, from its path relative to the root. */
export function repoPath(relative: string): string {
  return new URL(`../${relative}`, import.meta.url).pathname;
}

/** The root directory of this repository, without a trailing slash. */
export const REPO_ROOT = repoPath("").replace(/\/$/, "");

/**
 * The V8 flag kcm ships with (`deno task compile`, the `install` launcher):
 * kcm runs measured here get it too, so they behave like the binary.
 */
export const KCM_V8_FLAGS = "--v8-flags=--max-semi-space-size=2";

/** The path of the `deno` running this benchmark. */
export const DENO = Deno.execPath();

/**
 * Points every Deno process the benchmark starts from now on at a new,
 * empty cache directory (`DENO_DIR`), which shares only the npm packages
 * of the usual one; disposing of it puts the old `DENO_DIR` back and
 * removes the directory. Every program timed then loads its modules from
 * caches written the same way, in the same run: measured on 2026-11-29,
 * two identical checkouts started `kcm isolate` 5 ms apart (of 45) from
 * the long-lived shared cache, and in the same time from a fresh one. The
 * first run of each program fills the cache, so callers warm up.
 */
export async function useFreshDenoDir(): Promise<AsyncDisposable> {
  const info = await new Deno.Command(DENO, {
    args: ["info", "--json"],
    stdout: "piped",
    stderr: "null",
  }).output();
  const { npmCache } = JSON.parse(decoder.decode(info.stdout)) as {
    npmCache: string;
  };
  const dir = await Deno.makeTempDir({ prefix: "kcm-bench-deno-dir-" });
  await Deno.symlink(npmCache, `${dir}/npm`);
  const previous = Deno.env.get("DENO_DIR");
  Deno.env.set("DENO_DIR", dir);
  return {
    async [Symbol.asyncDispose]() {
      if (previous === undefined) Deno.env.delete("DENO_DIR");
      else Deno.env.set("DENO_DIR", previous);
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/**
 * Makes sure the V8 code cache of each of `modules` (absolute paths) is
 * in the current Deno cache, by importing them all from a program that
 * ends by itself, run with the configuration of `checkout` (a kcm tree).
 * Deno saves a module's code cache only once a later module loads: a kcm
 * from before main.ts loaded an empty module at its end, and whose
 * `isolate` loads no module after its own, never saved its cache (60 runs
 * from a fresh cache, so every module compiled from source every time,
 * 5-6 ms), while a program that ends by itself always does. So another
 * checkout is warmed with this before it is timed against this one.
 * Importing main.ts runs none of kcm (its entry point waits for
 * `import.meta.main`); `modules` must be as free of effects.
 */
export async function warmCodeCache(
  checkout: string,
  modules: readonly string[],
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kcm-bench-warm-" });
  try {
    const program = `${dir}/warm.ts`;
    await Deno.writeTextFile(
      program,
      modules.map((path) =>
        `import ${JSON.stringify(new URL(`file://${path}`).href)};\n`
      ).join(""),
    );
    const result = await new Deno.Command(DENO, {
      args: [
        "run",
        "--allow-all",
        `--config=${checkout}/deno.json`,
        KCM_V8_FLAGS,
        program,
      ],
      cwd: checkout,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!result.success) {
      throw new Error(
        `warming the code cache of ${modules.join(", ")} failed: ${
          decoder.decode(result.stderr).slice(0, 2000)
        }`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * The arguments of a script that measures this checkout against another
 * one, `<other-checkout> [rounds]`. Without a checkout it prints its usage
 * line and exits 2.
 */
export function versusArgs(
  script: string,
  defaultRounds: number,
  args: readonly string[] = Deno.args,
): { other: string; rounds: number } {
  const [other, rounds = String(defaultRounds)] = args;
  if (other === undefined) {
    Deno.stderr.writeSync(
      new TextEncoder().encode(
        `usage: bench/${script} <other-checkout> [rounds]\n`,
      ),
    );
    Deno.exit(2);
  }
  return { other, rounds: Number(rounds) };
}
