// deno-lint-ignore-file no-console
/**
 * Many `kcm isolate --cores=2` processes at once on one exclusive pool of
 * 8 single-CPU lists on 2 NUMA nodes: no CPU is ever in two live claims,
 * every claim stays on one node, a refused claim takes nothing, and every
 * list is given back. The lists name CPUs this machine lacks, so the
 * claims run with `--no-affinity`; the topology record describes them.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { CpuSet } from "../../core/cpuset.ts";
import { Topology } from "../../core/topology.ts";
import { formatTopologyRecord } from "../../core/topology_record.ts";
import { type CliResult, finish, spawnKcm } from "../_helpers/run_cli.ts";
import { makeConfigDir, type TempConfig } from "../_helpers/temp_config_dir.ts";
import { waitFor } from "../_helpers/wait.ts";
import { hasOpen } from "../_helpers/lock_holder.ts";

const LISTS = ["0", "1", "2", "3", "4", "5", "6", "7"];

/** CPUs 0-3 on node 0 (L3 0), 4-7 on node 1 (L3 1), one thread a core. */
const TOPOLOGY = new Topology(
  LISTS.map(Number).map((id) => ({
    id,
    packageId: 0,
    dieId: 0,
    coreId: id,
    numaNode: id >> 2,
    l3Id: id >> 2,
  })),
);

async function makePool(): Promise<TempConfig> {
  const conf = await makeConfigDir({
    dataplane: {
      exclusive: true,
      lists: Object.fromEntries(LISTS.map((list) => [list, ""])),
    },
  });
  await Deno.writeTextFile(
    join(conf.confDir, "topology.json"),
    formatTopologyRecord({ topology: TOPOLOGY, isolated: CpuSet.EMPTY }),
  );
  return conf;
}

/**
 * The child prints its lists and the times it started and ended (ns):
 * a claim is live at least from start to end.
 */
const CHILD = 'echo "$KCM_CPUS_ASSIGNED $KCM_NUMA_NODES_ASSIGNED ' +
  '$(date +%s%N)"; sleep "$1"; date +%s%N';

function spawnClaim(conf: TempConfig, sleep: string): Deno.ChildProcess {
  return spawnKcm([
    "isolate",
    `--conf-dir=${conf.confDir}`,
    "--pool=dataplane",
    "--cores=2",
    "--no-affinity",
    "sh",
    "--",
    "-c",
    CHILD,
    "claim",
    sleep,
  ], { env: { KCM_LOCK_TIMEOUT: "120" } });
}

interface Claim {
  readonly cpus: CpuSet;
  readonly node: string;
  readonly start: bigint;
  readonly end: bigint;
}

function parseClaim(result: CliResult, i: number): Claim {
  assert.equal(result.stderr, "", `claim ${i}`);
  const [first, end] = result.stdout.trimEnd().split("\n");
  const [assigned, node, start] = first!.split(" ");
  return {
    cpus: CpuSet.of(assigned!.split(/[-,]/).map(Number)),
    node: node!,
    start: BigInt(start!),
    end: BigInt(end!),
  };
}

/** Asserts that claims live at the same time share no CPU. */
function assertNoCpuTwice(claims: readonly Claim[]): number {
  let overlapping = 0;
  for (let i = 0; i < claims.length; i++) {
    for (let j = i + 1; j < claims.length; j++) {
      const a = claims[i]!, b = claims[j]!;
      if (a.start < b.end && b.start < a.end) {
        overlapping++;
        assert.ok(
          a.cpus.intersection(b.cpus).isEmpty(),
          `claims ${a.cpus} and ${b.cpus} were live at once`,
        );
      }
    }
  }
  return overlapping;
}

/** Asserts a claim is 2 lists of one node, as the child was told. */
function assertOnOneNode(claim: Claim): void {
  const ids = claim.cpus.toArray();
  assert.equal(ids.length, 2, `${claim.cpus}`);
  assert.equal(claim.node, String(ids[0]! >> 2), `${claim.cpus}`);
  assert.equal(ids[0]! >> 2, ids[1]! >> 2, `${claim.cpus} on one node`);
}

async function assertAllReleased(conf: TempConfig): Promise<void> {
  for (const list of LISTS) {
    assert.equal(await conf.tasks("dataplane", list), "", list);
    const names = [];
    for await (
      const entry of Deno.readDir(join(conf.confDir, "pools/dataplane", list))
    ) {
      names.push(entry.name);
    }
    assert.deepEqual(names, ["tasks"], `no temporary file in ${list}`);
  }
}

Deno.test("24 isolate --cores=2 racing for 8 lists: exactly 4 claims, two per node, 20 refused", async () => {
  await using conf = await makePool();
  const lockFile = join(conf.confDir, "lock");
  // Hold the lock while they start, then let them race for it at once.
  const gate = await Deno.open(lockFile, { read: true, write: true });
  await gate.lock(true);
  let kcms: Deno.ChildProcess[] = [];
  let results: CliResult[];
  try {
    kcms = Array.from({ length: 24 }, () => spawnClaim(conf, "3"));
    await waitFor("all 24 to wait for the lock", async () => {
      const waiting = await Promise.all(
        kcms.map((kcm) => hasOpen(kcm.pid, lockFile)),
      );
      return waiting.every(Boolean) ? true : undefined;
    }, 60_000);
    await gate.unlock();
    results = await Promise.all(kcms.map(finish));
  } finally {
    gate.close();
  }
  const claims = results.flatMap((r, i) =>
    r.code === 0 ? [parseClaim(r, i)] : []
  );
  const refused = results.filter((r) => r.code !== 0);
  for (const result of refused) {
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stdout, "");
    assert.match(
      result.stderr,
      /^kcm: error: Not enough free cpu lists in pool dataplane: asked for 2, [01] free \(8 lists, [78] taken\)\n/,
    );
  }
  assert.equal(claims.length, 4, "4 claims of 2 fill 8 lists");
  claims.forEach(assertOnOneNode);
  assert.equal(
    CpuSet.of(claims.flatMap((c) => c.cpus.toArray())).toString(),
    "0-7",
    "together they hold every list once",
  );
  assertNoCpuTwice(claims);
  await assertAllReleased(conf);
});

Deno.test("40 isolate --cores=2 coming and going: no CPU in two live claims, every list given back", async () => {
  await using conf = await makePool();
  const started = performance.now();
  const kcms: Deno.ChildProcess[] = [];
  for (let i = 0; i < 40; i++) {
    kcms.push(spawnClaim(conf, String(0.2 + (i % 5) * 0.1)));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const results = await Promise.all(kcms.map(finish));
  const claims = results.flatMap((r, i) =>
    r.code === 0 ? [parseClaim(r, i)] : []
  );
  for (const result of results) {
    if (result.code === 0) continue;
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /^kcm: error: Not enough free cpu lists/);
  }
  claims.forEach(assertOnOneNode);
  const overlapping = assertNoCpuTwice(claims);
  console.log(
    `${claims.length} claims, ${
      results.length - claims.length
    } refused, ${overlapping} pairs live at once, ${
      (performance.now() - started).toFixed(0)
    } ms`,
  );
  assert.ok(claims.length >= 4, "at least 4 claims fit at once");
  assert.ok(overlapping > 0, "claims ran at the same time");
  await assertAllReleased(conf);
});
