import assert from "node:assert/strict";
import { join } from "node:path";
import fc from "fast-check";
import { CpuSet, parseCpuList } from "../../core/cpuset.ts";
import { readIsolatedCpus, readTopology } from "../../core/sysfs.ts";
import { Topology } from "../../core/topology.ts";
import { TopologyRecordError } from "../../core/record_document.ts";
import {
  formatTopologyRecord,
  parseTopologyRecord,
} from "../../core/topology_record.ts";
import { arbitraryShape, buildTopology } from "../_helpers/random_topology.ts";
import { REPO_ROOT } from "../_helpers/run_cli.ts";

const FIXTURES = join(REPO_ROOT, "tests/fixtures/sysfs");

Deno.test("parseTopologyRecord() reads back what formatTopologyRecord() wrote, on every fixture", async () => {
  let fixtures = 0;
  for await (const entry of Deno.readDir(FIXTURES)) {
    if (!entry.isDirectory) continue;
    const root = join(FIXTURES, entry.name);
    const topology = await readTopology(root);
    const isolated = await readIsolatedCpus(root);
    const text = formatTopologyRecord({ topology, isolated });
    const record = parseTopologyRecord(text);
    assert.deepEqual(record.topology.cpus, topology.cpus, entry.name);
    assert.ok(record.isolated.equals(isolated), entry.name);
    assert.equal(formatTopologyRecord(record), text, entry.name);
    fixtures++;
  }
  assert.equal(fixtures, 9);
});

Deno.test("formatTopologyRecord() writes the EPYC record compactly, one entry a line", async () => {
  const root = join(FIXTURES, "epyc_2x64x2_nps4");
  const text = formatTopologyRecord({
    topology: await readTopology(root),
    isolated: await readIsolatedCpus(root),
  });
  const lines = text.split("\n");
  assert.deepEqual(lines.slice(0, 5), [
    "{",
    '  "version": 1,',
    '  "isolated": "68-127,195-255",',
    '  "numa_nodes": {',
    '    "0": "0-15,128-143",',
  ]);
  assert.ok(lines.includes('    "15": "120-127,248-255"'));
  assert.ok(
    lines.includes(
      '    {"package": 1, "die": 0, "core": 63, "cpus": "127,255"}',
    ),
  );
  // 5 header lines, 8 nodes, 16 L3s, 128 cores, 3 closing lines, "".
  assert.equal(lines.length, 4 + 8 + 2 + 16 + 2 + 128 + 2 + 1);
  assert.ok(text.length < 10_000, `${text.length} bytes`);
});

Deno.test("formatTopologyRecord() leaves CPUs without a node or an L3 out of those maps", () => {
  const topology = new Topology([0, 1].map((id) => ({
    id,
    packageId: 0,
    dieId: 0,
    coreId: id,
    numaNode: null,
    l3Id: null,
  })));
  const text = formatTopologyRecord({ topology, isolated: CpuSet.EMPTY });
  assert.match(text, /"numa_nodes": \{\},\n {2}"l3_caches": \{\},/);
  assert.deepEqual(parseTopologyRecord(text).topology.cpus, topology.cpus);
});

Deno.test("parseTopologyRecord() ignores keys it does not know", () => {
  const record = parseTopologyRecord(JSON.stringify({
    version: 1,
    "written_by": "a later kcm",
    isolated: "1",
    "numa_nodes": { "0": "0-1" },
    "l3_caches": {},
    cores: [{ package: 0, die: 0, core: 0, cpus: "0-1", smt: true }],
  }));
  assert.equal(record.topology.cores[0]?.cpus.toString(), "0-1");
  assert.equal(record.isolated.toString(), "1");
  assert.equal(record.topology.cpu(1)?.l3Id, null);
});

Deno.test("parseTopologyRecord() round-trips random machines", () => {
  fc.assert(
    fc.property(arbitraryShape, fc.integer(), (shape, seed) => {
      const topology = buildTopology(shape);
      const isolated = CpuSet.of(
        topology.cpus.filter((c) => (c.id * 7 + seed) % 3 === 0).map((c) =>
          c.id
        ),
      );
      const record = parseTopologyRecord(
        formatTopologyRecord({ topology, isolated }),
      );
      assert.deepEqual(record.topology.cpus, topology.cpus);
      assert.ok(record.isolated.equals(isolated));
    }),
  );
});

// Bad records: each names the field.

const GOOD = {
  version: 1,
  isolated: "",
  "numa_nodes": { "0": "0-3" },
  "l3_caches": { "0": "0-3" },
  cores: [
    { package: 0, die: 0, core: 0, cpus: "0,2" },
    { package: 0, die: 0, core: 1, cpus: "1,3" },
  ],
};

Deno.test("parseTopologyRecord() rejects broken records, naming the field", () => {
  const cases: [string, unknown, string, RegExp][] = [
    ["not JSON", "{", "", /JSON|Expected/],
    ["not an object", [], "", /not a JSON object/],
    [
      "newer version",
      { ...GOOD, version: 2 },
      "version",
      /^2 is not a version/,
    ],
    ["no version", { ...GOOD, version: undefined }, "version", /undefined/],
    ["no cores", { ...GOOD, cores: undefined }, "cores", /missing/],
    [
      "bad isolated",
      { ...GOOD, isolated: "1-" },
      "isolated",
      /Cannot parse CPU list "1-"/,
    ],
    [
      "negative package",
      { ...GOOD, cores: [{ ...GOOD.cores[0], package: -1 }] },
      "cores[0].package",
      /-1 is not a non-negative integer/,
    ],
    [
      "string core id",
      { ...GOOD, cores: [{ ...GOOD.cores[0], core: "0" }] },
      "cores[0].core",
      /"0" is not a non-negative integer/,
    ],
    [
      "empty core",
      { ...GOOD, cores: [{ ...GOOD.cores[0], cpus: "" }] },
      "cores[0].cpus",
      /empty/,
    ],
    [
      "CPU in two cores",
      {
        ...GOOD,
        cores: [GOOD.cores[0], { ...GOOD.cores[1], cpus: "2,3" }],
      },
      "cores[1].cpus",
      /CPU 2 is in two cores/,
    ],
    [
      "core listed twice",
      { ...GOOD, cores: [GOOD.cores[0], { ...GOOD.cores[0], cpus: "1,3" }] },
      "cores[1]",
      /core 0 appears twice/,
    ],
    [
      "node CPU in no core",
      { ...GOOD, "numa_nodes": { "0": "0-4" } },
      "numa_nodes.0",
      /CPU 4 is in no core/,
    ],
    [
      "CPU on two nodes",
      { ...GOOD, "numa_nodes": { "0": "0-2", "1": "2-3" } },
      "numa_nodes.1",
      /CPU 2 is also under "0"/,
    ],
    [
      "bad L3 key",
      { ...GOOD, "l3_caches": { "L3": "0-3" } },
      "l3_caches.L3",
      /"L3" is not an id/,
    ],
    [
      "L3 map missing",
      { ...GOOD, "l3_caches": undefined },
      "l3_caches",
      /missing/,
    ],
  ];
  for (const [what, document, field, reason] of cases) {
    const text = typeof document === "string"
      ? document
      : JSON.stringify(document);
    assert.throws(
      () => parseTopologyRecord(text),
      (error: unknown) => {
        assert.ok(error instanceof TopologyRecordError, `${what}: ${error}`);
        assert.ok(error instanceof SyntaxError);
        assert.equal(error.field, field, what);
        assert.match(error.reason, reason, what);
        return true;
      },
    );
  }
  // The good record itself parses.
  const good = parseTopologyRecord(JSON.stringify(GOOD));
  assert.equal(good.topology.coreOf(3)?.cpus.toString(), "1,3");
  assert.ok(good.topology.cpusInL3(0).equals(parseCpuList("0-3")));
});
