import assert from "node:assert/strict";
import { join } from "node:path";
import { CpuSet, parseCpuList } from "../../core/cpuset.ts";
import { formatJson } from "../../core/json.ts";
import { planLayout } from "../../core/layout.ts";
import { readIsolatedCpus, readTopology } from "../../core/sysfs.ts";
import {
  findSpanningExclusiveLists,
  type PoolCpus,
  topologySection,
} from "../../core/topology_report.ts";
import { REPO_ROOT } from "../_helpers/run_cli.ts";

const SNC = join(REPO_ROOT, "tests/fixtures/sysfs/dual_snc2_2x20x2");

/** init's pools on a fixture, as node-report reads them. */
function poolsOf(layout: ReturnType<typeof planLayout>): PoolCpus[] {
  return layout.map((pool) => ({
    name: pool.name,
    exclusive: pool.exclusive,
    lists: pool.cpuLists.map((name) => ({ name, cpus: parseCpuList(name) })),
  }));
}

Deno.test("topologySection() places every list of init's pools on the SNC-2 fixture", async () => {
  const topology = await readTopology(SNC);
  const pools = poolsOf(
    planLayout(topology, { dataplane: 12, controlplane: 1 }),
  );
  const json = topologySection(pools, {
    topology,
    isolated: await readIsolatedCpus(SNC),
    source: "record",
  });
  // The section is a JSON document kcm can print.
  assert.ok(formatJson(json).includes('"unknownCpus": ""'));
  const section = json as {
    isolated: string;
    numaNodes: Record<string, string>;
    l3Caches: Record<string, string>;
    pools: Record<string, Record<string, Record<string, unknown>>>;
    source: string;
  };
  assert.equal(section.source, "record");
  assert.equal(section.isolated, "10-39,50-79");
  assert.deepEqual(section.numaNodes, {
    "0": "0-9,40-49",
    "1": "10-19,50-59",
    "2": "20-29,60-69",
    "3": "30-39,70-79",
  });
  assert.deepEqual(section.l3Caches, { "0": "0-19,40-59", "1": "20-39,60-79" });
  assert.deepEqual(section.pools.dataplane?.["39,79"], {
    l3Caches: [1],
    numaNodes: [3],
    packages: [1],
    unknownCpus: "",
  });
  assert.deepEqual(section.pools.dataplane?.["28,68"]?.numaNodes, [2]);
  assert.deepEqual(section.pools.infra?.[pools[2]!.lists[0]!.name], {
    l3Caches: [0, 1],
    numaNodes: [0, 1, 2],
    packages: [0, 1],
    unknownCpus: "",
  });
});

Deno.test("topologySection() names the CPUs of a list the topology does not know", async () => {
  const topology = await readTopology(SNC);
  const section = topologySection(
    [{
      name: "dp",
      exclusive: true,
      lists: [{ name: "79-81", cpus: parseCpuList("79-81") }],
    }],
    { topology, isolated: CpuSet.EMPTY, source: "sysfs" },
  ) as { pools: Record<string, Record<string, Record<string, unknown>>> };
  assert.deepEqual(section.pools.dp?.["79-81"], {
    l3Caches: [1],
    numaNodes: [3],
    packages: [1],
    unknownCpus: "80-81",
  });
});

Deno.test("findSpanningExclusiveLists() flags exclusive lists across NUMA nodes only", async () => {
  const topology = await readTopology(SNC);
  const list = (name: string) => ({ name, cpus: parseCpuList(name) });
  const pools: PoolCpus[] = [
    {
      name: "dataplane",
      exclusive: true,
      lists: [list("9,49"), list("9-10"), list("19-20,59-60")],
    },
    { name: "infra", exclusive: false, lists: [list("0-39")] },
  ];
  assert.deepEqual(findSpanningExclusiveLists(pools, topology), [
    "Exclusive CPU list dataplane:9-10 spans NUMA nodes 0,1",
    "Exclusive CPU list dataplane:19-20,59-60 spans NUMA nodes 1,2",
  ]);
  // init's own dataplane lists are whole cores: never across nodes.
  const init = poolsOf(
    planLayout(topology, { dataplane: 39, controlplane: 0 }),
  );
  assert.deepEqual(findSpanningExclusiveLists(init, topology), []);
});
