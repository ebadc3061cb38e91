// deno-lint-ignore-file no-console
/**
 * kcm's allocator against the kubelet's (opt-in: `--only=kubelet`, needs
 * Go): for every sysfs fixture, one seeded sequence of multi-core claims
 * and releases (bench/claim_sequence.ts) replayed through kcm's
 * `allocateLists()` in-process, over a pool of one list per physical core
 * like `init`'s dataplane, and through the kubelet's static CPU manager
 * policy with the Topology Manager's best-effort hint merging
 * (tests/k8s/testenv/cpualloc, built once from the test environment's Go
 * modules and cached in `${KCM_TESTENV_CACHE:-~/.cache/kcm-testenv}`).
 * Prints, per machine, the share of claims each kept on one NUMA node and
 * under one L3 cache, summed over several seeds (one seed's sequence is
 * path-dependent: a single early choice changes everything after it), and
 * on how many seeds kcm was behind. Not a test: it reports.
 *
 *     deno run --allow-all bench/kubelet_compare.ts [--seeds=N] [--steps=N]
 */

import { join } from "node:path";
import { allocateLists, type Allocation } from "../core/allocate.ts";
import { type CpuSet, parseCpuList } from "../core/cpuset.ts";
import { readTopology } from "../core/sysfs.ts";
import type { Topology } from "../core/topology.ts";
import { claimSequence, type ClaimStep, corePool } from "./claim_sequence.ts";
import { repoPath } from "./measure.ts";

const FIXTURES = repoPath("tests/fixtures/sysfs");
const MODULE = repoPath("tests/k8s/testenv");

/** What one allocator did with a sequence. */
interface Outcome {
  /** Claims met. */
  readonly met: number;
  /** Claims whose CPUs lie on one NUMA node. */
  readonly oneNode: number;
  /** Claims whose CPUs share one L3. */
  readonly oneL3: number;
  /** Claims that failed, with the first error. */
  readonly failed: number;
  readonly firstError?: string;
}

/** One machine's comparison, summed over the seeds. */
export interface Comparison {
  readonly machine: string;
  readonly claims: number;
  /** Claims that could fit on one node of an empty machine. */
  readonly fitNode: number;
  readonly hasL3: boolean;
  readonly kcm: Outcome;
  readonly kubelet: Outcome;
  /** Seeds on which kcm kept fewer claims on one node / one L3. */
  readonly behindNode: number;
  readonly behindL3: number;
}

function add(a: Outcome, b: Outcome): Outcome {
  const firstError = a.firstError ?? b.firstError;
  return {
    met: a.met + b.met,
    oneNode: a.oneNode + b.oneNode,
    oneL3: a.oneL3 + b.oneL3,
    failed: a.failed + b.failed,
    ...(firstError === undefined ? {} : { firstError }),
  };
}

const NOTHING: Outcome = { met: 0, oneNode: 0, oneL3: 0, failed: 0 };

function tally(
  topology: Topology,
  results: readonly (CpuSet | string)[],
): Outcome {
  let met = 0, oneNode = 0, oneL3 = 0, failed = 0;
  let firstError: string | undefined;
  for (const result of results) {
    if (typeof result === "string") {
      failed++;
      firstError ??= result;
      continue;
    }
    met++;
    const placement = topology.placementOf(result);
    if (placement.numaNodes.length <= 1) oneNode++;
    if (placement.l3Ids.length === 1) oneL3++;
  }
  return {
    met,
    oneNode,
    oneL3,
    failed,
    ...(firstError === undefined ? {} : { firstError }),
  };
}

/** Replays `steps` through kcm's allocator; one result per claim. */
function replayKcm(
  topology: Topology,
  steps: readonly ClaimStep[],
): (CpuSet | string)[] {
  const pool = corePool(topology);
  const free = new Set(pool.lists.map((l) => l.name));
  const live = new Map<string, Allocation>();
  const results: (CpuSet | string)[] = [];
  for (const step of steps) {
    if (step.op === "release") {
      for (const list of live.get(step.id)?.lists ?? []) free.add(list.name);
      live.delete(step.id);
      continue;
    }
    const view = {
      ...pool,
      lists: pool.lists.map((l) => ({ ...l, free: free.has(l.name) })),
    };
    try {
      const allocation = allocateLists(view, topology, { count: step.cores });
      for (const list of allocation.lists) free.delete(list.name);
      live.set(step.id, allocation);
      results.push(allocation.cpus);
    } catch (error) {
      results.push(error instanceof Error ? error.message : String(error));
    }
  }
  return results;
}

/** The path of the cached cpualloc binary, built when missing or stale. */
export async function buildCpualloc(): Promise<string> {
  const goMod = await Deno.readTextFile(join(MODULE, "go.mod"));
  const version = /^\s*k8s\.io\/kubernetes (v\S+)/m.exec(goMod)?.[1] ??
    "unknown";
  const cache = Deno.env.get("KCM_TESTENV_CACHE") ??
    join(Deno.env.get("HOME") ?? "/tmp", ".cache", "kcm-testenv");
  const binary = join(cache, `cpualloc-${version}`, "cpualloc");
  const source = await Deno.stat(join(MODULE, "cpualloc", "main.go"));
  const built = await Deno.stat(binary).catch(() => undefined);
  if (built?.mtime && source.mtime && built.mtime >= source.mtime) {
    return binary;
  }
  const go = await Deno.stat("/usr/local/go/bin/go").then(
    () => "/usr/local/go/bin/go",
    () => "go",
  );
  console.error(`building ${binary} (go build, a few minutes the first time)`);
  const output = await new Deno.Command(go, {
    args: ["build", "-mod=readonly", "-o", binary, "./cpualloc"],
    cwd: MODULE,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error(`go build failed (${output.code})`);
  return binary;
}

/** Replays `steps` through the kubelet; one result per claim. */
async function replayKubelet(
  binary: string,
  topology: Topology,
  steps: readonly ClaimStep[],
): Promise<(CpuSet | string)[]> {
  // The kubelet counts CPUs; with full-pcpus-only it takes whole cores of
  // topology.CPUsPerCore() threads (integer division of CPUs by cores).
  const perCore = Math.max(
    1,
    Math.floor(topology.cpus.length / topology.cores.length),
  );
  const input = {
    cpus: topology.cpus.map((cpu) => ({
      id: cpu.id,
      core: topology.coreOf(cpu.id)!.cpus.toArray()[0]!,
      socket: cpu.packageId,
      node: cpu.numaNode ?? 0,
      l3: cpu.l3Id ?? cpu.packageId,
    })),
    requests: steps.map((step) =>
      step.op === "claim"
        ? { op: "claim", id: step.id, cpus: step.cores * perCore }
        : step
    ),
  };
  const child = new Deno.Command(binary, {
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(input)));
  await writer.close();
  const output = await child.output();
  const stderr = new TextDecoder().decode(output.stderr);
  if (!output.success) throw new Error(`cpualloc failed: ${stderr}`);
  return new TextDecoder().decode(output.stdout).trim().split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as { cpus?: string; error?: string })
    .map((r) => r.cpus !== undefined ? parseCpuList(r.cpus) : r.error ?? "");
}

/** Compares both allocators on every fixture, for seeds 1..`seeds`. */
export async function compareWithKubelet(
  options: { seeds: number; steps: number },
): Promise<Comparison[]> {
  const binary = await buildCpualloc();
  const machines: string[] = [];
  for await (const entry of Deno.readDir(FIXTURES)) {
    if (entry.isDirectory) machines.push(entry.name);
  }
  const comparisons: Comparison[] = [];
  for (const machine of machines.sort()) {
    const topology = await readTopology(join(FIXTURES, machine));
    const cores = topology.cores.length;
    const nodeCores = Math.max(
      ...topology.numaNodes().map((n) => topology.coresInNumaNode(n).length),
      topology.numaNodes().length === 0 ? cores : 0,
    );
    let kcm = NOTHING, kubelet = NOTHING;
    let claims = 0, fitNode = 0, behindNode = 0, behindL3 = 0;
    for (let seed = 1; seed <= options.seeds; seed++) {
      const steps = claimSequence(cores, {
        seed,
        steps: options.steps,
        // Claims up to 16 cores (half the machine on small ones): on the
        // multi-node fixtures some cannot fit on one node.
        maxCores: Math.min(16, Math.ceil(cores / 2)),
      });
      const ours = tally(topology, replayKcm(topology, steps));
      const theirs = tally(
        topology,
        await replayKubelet(binary, topology, steps),
      );
      for (const step of steps) {
        if (step.op !== "claim") continue;
        claims++;
        if (step.cores <= nodeCores) fitNode++;
      }
      if (ours.oneNode * theirs.met < theirs.oneNode * ours.met) behindNode++;
      if (ours.oneL3 * theirs.met < theirs.oneL3 * ours.met) behindL3++;
      kcm = add(kcm, ours);
      kubelet = add(kubelet, theirs);
    }
    comparisons.push({
      machine,
      claims,
      fitNode,
      hasL3: topology.l3Ids().length > 0,
      kcm,
      kubelet,
      behindNode,
      behindL3,
    });
  }
  return comparisons;
}

function share(part: number, whole: number): string {
  return whole === 0 ? "n/a" : `${(100 * part / whole).toFixed(1)}%`;
}

/** The comparison as a markdown table. */
export function formatComparison(comparisons: readonly Comparison[]): string {
  const lines = [
    "| machine | claims | fit one node | one NUMA node: kcm | kubelet | one L3: kcm | kubelet | seeds kcm behind (node, L3) | kcm >= kubelet |",
    "|---|---:|---:|---:|---:|---:|---:|---|---|",
  ];
  for (const c of comparisons) {
    const l3 = (o: Outcome) => c.hasL3 ? share(o.oneL3, o.met) : "no L3";
    const atLeast = c.kcm.oneNode * c.kubelet.met >=
        c.kubelet.oneNode * c.kcm.met &&
      (!c.hasL3 || c.kcm.oneL3 * c.kubelet.met >= c.kubelet.oneL3 * c.kcm.met);
    const failures = [c.kcm, c.kubelet].some((o) => o.failed > 0)
      ? ` (failed: kcm ${c.kcm.failed}, kubelet ${c.kubelet.failed})`
      : "";
    lines.push(
      `| ${c.machine} | ${c.claims}${failures} | ` +
        `${share(c.fitNode, c.claims)} | ` +
        `${share(c.kcm.oneNode, c.kcm.met)} | ` +
        `${share(c.kubelet.oneNode, c.kubelet.met)} | ${l3(c.kcm)} | ` +
        `${l3(c.kubelet)} | ${c.behindNode}, ${c.hasL3 ? c.behindL3 : "-"} | ` +
        `${atLeast ? "yes" : "**no**"} |`,
    );
  }
  return lines.join("\n");
}

/** Parses `--seeds=N --steps=N`; undefined on anything else. */
export function parseCompareArgs(
  args: readonly string[],
): { seeds: number; steps: number } | undefined {
  let seeds = 10, steps = 600;
  for (const arg of args) {
    const match = /^--(seeds|steps)=([1-9][0-9]*)$/.exec(arg);
    if (match === null) return undefined;
    if (match[1] === "seeds") seeds = Number(match[2]);
    else steps = Number(match[2]);
  }
  return { seeds, steps };
}

/** Runs the comparison and prints its table. */
export async function printKubeletComparison(
  options: { seeds: number; steps: number },
): Promise<void> {
  const comparisons = await compareWithKubelet(options);
  console.log(
    `\n## kcm against the kubelet (seeds 1-${options.seeds}, ` +
      `${options.steps} steps each)\n`,
  );
  console.log(formatComparison(comparisons));
  for (const c of comparisons) {
    for (const [who, o] of [["kcm", c.kcm], ["kubelet", c.kubelet]] as const) {
      if (o.firstError !== undefined) {
        console.log(`${c.machine}, ${who}: ${o.firstError}`);
      }
    }
  }
}

if (import.meta.main) {
  const options = parseCompareArgs(Deno.args);
  if (options === undefined) {
    console.error("usage: bench/kubelet_compare.ts [--seeds=N] [--steps=N]");
    Deno.exit(2);
  }
  await printKubeletComparison(options);
}
