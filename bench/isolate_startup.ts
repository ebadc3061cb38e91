// deno-lint-ignore-file no-console
/**
 * Benchmark 1, isolate start-up: `kcm isolate --pool=infra true` through
 * `deno run` (warm cache) against `taskset -c <same cpus> true` (the
 * physical floor) and bench/floor_spawn.ts (the runtime floor: Deno that
 * only spawns `true`). Also times variants that split kcm's cost from the
 * outside (an empty program, `--version`, `--no-affinity`, a tmpfs config
 * directory), a placed claim (`--cores=2`: the allocator and the whole
 * topology record loaded) and the phases inside one run
 * (bench/isolate_phases.ts), and the same isolate bundled into one module
 * by `deno bundle` (what loading modules from source costs). The config
 * directory holds this machine's topology record, as `kcm init` writes it. Two more show what kcm avoids
 * or pays for the 2017 tool's behaviour: an empty program importing
 * `node:fs` (bench/floor_node_fs.ts), and isolate on a tasks file owned by
 * another user, which it gives back by fchown (as root only).
 */

import { join } from "node:path";
import { writeConfigDir, writeTopologyRecord } from "./fixtures.ts";
import {
  DENO,
  formatMs,
  interleave,
  KCM_V8_FLAGS,
  median,
  repoPath,
  timeCommand,
} from "./measure.ts";
import { type Row, timeRow } from "./table.ts";
import type { BenchOptions } from "./options.ts";

const CPUS = "1";

/** Pool `infra` of one list, with this machine's record as init writes. */
async function makeInfra(confDir: string): Promise<void> {
  await writeConfigDir(confDir, [
    { name: "infra", exclusive: false, lists: [{ name: CPUS, tasks: [] }] },
  ]);
  await writeTopologyRecord(confDir);
}

/**
 * main.ts and its static graph (isolate's whole path) bundled into one
 * module by `deno bundle` (experimental in Deno 2, and it fetches esbuild
 * from npm), in `dir`: the same code without loading 40-odd modules from
 * source, which is how much of kcm's start-up is module loading.
 * Undefined, with the reason printed, when it cannot be built. Only
 * `isolate` runs from it: the other commands are imported by paths
 * relative to main.ts.
 */
async function bundleMain(dir: string): Promise<string | undefined> {
  const output = join(dir, "kcm-bundled.js");
  const built = await new Deno.Command(DENO, {
    args: [
      "bundle",
      "--platform=deno",
      "--output",
      output,
      repoPath("main.ts"),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (built.success) return output;
  const reason = new TextDecoder().decode(built.stderr).trim().split("\n")
    .pop();
  console.log(`  (no bundled run: deno bundle failed: ${reason})`);
  return undefined;
}

/** Runs benchmark 1 and returns its table rows. */
export async function benchIsolateStartup(
  options: BenchOptions,
): Promise<Row[]> {
  const rounds = options.quick ? 12 : 40;
  const tmp = await Deno.makeTempDir({ prefix: "kcm-bench-isolate-" });
  const shm = await Deno.makeTempDir({
    dir: "/dev/shm",
    prefix: "kcm-bench-isolate-",
  });
  try {
    const confDir = join(tmp, "kcm"), shmConf = join(shm, "kcm");
    const ownedConf = join(tmp, "owned");
    await makeInfra(confDir);
    await makeInfra(shmConf);
    await makeInfra(ownedConf);
    const asRoot = Deno.uid() === 0;
    if (asRoot) {
      const tasks = join(ownedConf, "pools/infra", CPUS, "tasks");
      await Deno.chown(tasks, 65534, 65534);
      await Deno.chmod(tasks, 0o660);
    } else {
      console.log("  (not root: no run on a tasks file of another owner)");
    }
    const main = repoPath("main.ts");
    const bundled = await bundleMain(tmp);
    const deno = (...args: string[]) => async () =>
      (await timeCommand({
        command: DENO,
        args: ["run", "--allow-all", KCM_V8_FLAGS, ...args],
      }))
        .ms;
    const isolateOf = (entry: string) => (conf: string, ...extra: string[]) =>
      deno(
        entry,
        "isolate",
        `--conf-dir=${conf}`,
        "--pool=infra",
        ...extra,
        "true",
      );
    const isolate = isolateOf(main);
    const samples = await interleave(rounds, {
      kcm: isolate(confDir),
      floorSpawn: deno(repoPath("bench/floor_spawn.ts"), "true"),
      taskset: async () =>
        (await timeCommand({ command: "taskset", args: ["-c", CPUS, "true"] }))
          .ms,
      empty: deno(repoPath("bench/floor_empty.ts")),
      version: deno(main, "--version"),
      noAffinity: isolate(confDir, "--no-affinity"),
      tmpfsConf: isolate(shmConf),
      emptyNodeFs: deno(repoPath("bench/floor_node_fs.ts")),
      ...(asRoot ? { otherOwner: isolate(ownedConf) } : {}),
      // A shared pool ignores the count, but the claim is still placed:
      // the allocator and the whole topology record are loaded.
      placed: isolate(confDir, "--cores=2"),
      ...(bundled === undefined
        ? {}
        : { bundled: isolateOf(bundled)(confDir) }),
    }, { warmup: 2 });
    const m: Record<string, number> = {};
    for (const [name, values] of Object.entries(samples)) {
      m[name] = median(values);
    }

    console.log(
      `\n## 1. isolate start-up (${rounds} interleaved rounds, medians)`,
    );
    for (const [name, value] of Object.entries(m)) {
      console.log(`  ${name.padEnd(12)} ${formatMs(value)}`);
    }

    // Phases inside one run, each in a fresh process.
    const phaseRuns: Record<string, number>[] = [];
    const phaseRounds = options.quick ? 12 : 30;
    for (let i = 0; i < phaseRounds + 1; i++) {
      const { stdout } = await timeCommand({
        command: DENO,
        args: [
          "run",
          "--allow-all",
          repoPath("bench/isolate_phases.ts"),
          confDir,
          "infra",
        ],
      });
      if (i > 0) phaseRuns.push(JSON.parse(stdout.trim().split("\n").pop()!));
    }
    const phases: Record<string, number> = {};
    for (const key of Object.keys(phaseRuns[0] ?? {})) {
      phases[key] = median(phaseRuns.map((run) => run[key] ?? NaN));
    }
    console.log(
      `  phases inside one run (${phaseRounds} fresh processes, medians):`,
    );
    for (const [name, value] of Object.entries(phases)) {
      console.log(`    ${name.padEnd(18)} ${formatMs(value)}`);
    }
    console.log("  split from the outside (differences of medians):");
    console.log(
      `    runtime start-up (empty program)       ${formatMs(m.empty!)}`,
    );
    console.log(
      `    main.ts static graph (--version-empty) ${
        formatMs(m.version! - m.empty!)
      }`,
    );
    console.log(
      `    spawn+wait (floorSpawn-empty)          ${
        formatMs(m.floorSpawn! - m.empty!)
      }`,
    );
    console.log(
      `    kcm over floor (kcm-floorSpawn)        ${
        formatMs(m.kcm! - m.floorSpawn!)
      }`,
    );
    console.log(
      `    FFI pinning (kcm-noAffinity)           ${
        formatMs(m.kcm! - m.noAffinity!)
      }`,
    );
    console.log(
      `    fsync on ext4 (kcm-tmpfsConf)          ${
        formatMs(m.kcm! - m.tmpfsConf!)
      }`,
    );
    console.log(
      `    node:fs import (emptyNodeFs-empty)     ${
        formatMs(m.emptyNodeFs! - m.empty!)
      }`,
    );
    if (m.bundled !== undefined) {
      console.log(
        `    module loading from source (kcm-bundled) ${
          formatMs(m.kcm! - m.bundled)
        }`,
      );
    }
    if (m.otherOwner !== undefined) {
      console.log(
        `    tasks of another owner (otherOwner-kcm) ${
          formatMs(m.otherOwner - m.kcm!)
        }`,
      );
    }

    return [
      timeRow(
        "1. isolate start-up",
        m.kcm!,
        "floor_spawn.ts (Deno spawns true)",
        m.floorSpawn!,
        1.3,
      ),
      timeRow(
        "1. isolate start-up",
        m.kcm!,
        `taskset -c ${CPUS} true`,
        m.taskset!,
      ),
      timeRow(
        "1. isolate, tmpfs conf dir (no disk fsync)",
        m.tmpfsConf!,
        "floor_spawn.ts",
        m.floorSpawn!,
        1.3,
      ),
      timeRow(
        "1. isolate --no-affinity",
        m.noAffinity!,
        "floor_spawn.ts",
        m.floorSpawn!,
      ),
      timeRow(
        "1. empty program importing node:fs",
        m.emptyNodeFs!,
        "floor_empty.ts",
        m.empty!,
      ),
      ...(m.otherOwner === undefined ? [] : [
        timeRow(
          "1. isolate, tasks file of another owner (fchown)",
          m.otherOwner,
          "isolate, own tasks file",
          m.kcm!,
        ),
      ]),
      ...(m.bundled === undefined ? [] : [
        timeRow(
          "1. isolate, main.ts bundled into one module (deno bundle)",
          m.bundled,
          "floor_spawn.ts",
          m.floorSpawn!,
        ),
      ]),
      timeRow(
        "1. isolate --cores=2 (allocator, whole record)",
        m.placed!,
        "isolate of one list",
        m.kcm!,
      ),
    ];
  } finally {
    await Deno.remove(tmp, { recursive: true });
    await Deno.remove(shm, { recursive: true });
  }
}
