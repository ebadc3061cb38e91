import assert from "node:assert/strict";
import { join } from "node:path";
import { readIsolatedCpus, readTopology } from "../../core/sysfs.ts";
import { formatTopologyRecord } from "../../core/topology_record.ts";
import { type CliResult, REPO_ROOT, runKcm } from "../_helpers/run_cli.ts";
import { listNames, snapshotTree } from "../_helpers/temp_config_dir.ts";

const SYSFS = join(REPO_ROOT, "tests/fixtures/sysfs");

interface ExpectedCase {
  dataplane: number;
  controlplane: number;
  layout?: { name: string; exclusive: boolean; cpuLists: string[] }[];
  error?: string;
}

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kcm-init-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function expectedTree(layout: NonNullable<ExpectedCase["layout"]>): string[] {
  const entries = ["lock", "pools/", "topology.json"];
  for (const pool of layout) {
    entries.push(`pools/${pool.name}/`, `pools/${pool.name}/exclusive`);
    for (const list of pool.cpuLists) {
      entries.push(
        `pools/${pool.name}/${list}/`,
        `pools/${pool.name}/${list}/tasks`,
      );
    }
  }
  return entries.sort();
}

for (const entry of Deno.readDirSync(SYSFS)) {
  if (!entry.isDirectory) continue;
  const shape = entry.name;
  Deno.test(`kcm init on the ${shape} fixture writes its expected layout`, async () => {
    const { cases } = JSON.parse(
      await Deno.readTextFile(join(SYSFS, shape, "expected_init.json")),
    ) as { cases: ExpectedCase[] };
    for (const c of cases) {
      await withTemp(async (dir) => {
        const confDir = join(dir, "kcm");
        const result = await runKcm([
          "init",
          `--conf-dir=${confDir}`,
          `--num-dp-cores=${c.dataplane}`,
          `--num-cp-cores=${c.controlplane}`,
        ], {
          env: {
            KCM_SYS_FS: join(SYSFS, shape),
            KCM_PROC_FS: dir,
            KCM_LOG_LEVEL: "ERROR",
          },
        });
        const label = `${shape} dp=${c.dataplane} cp=${c.controlplane}`;
        if (c.error !== undefined) {
          assert.equal(result.code, 1, label);
          assert.equal(result.stderr, `kcm: error: ${c.error}\n`, label);
          assert.deepEqual(
            await listNames(dir),
            [],
            `${label}: nothing written`,
          );
          return;
        }
        assert.equal(result.code, 0, `${label}: ${result.stderr}`);
        assert.equal(result.stdout, "");
        const tree = await snapshotTree(confDir);
        assert.deepEqual(
          [...tree.keys()].sort(),
          expectedTree(c.layout!),
          label,
        );
        for (const pool of c.layout!) {
          assert.equal(
            tree.get(`pools/${pool.name}/exclusive`),
            pool.exclusive ? "1" : "0",
          );
          for (const list of pool.cpuLists) {
            assert.equal(tree.get(`pools/${pool.name}/${list}/tasks`), "");
          }
        }
        assert.equal(
          tree.get("topology.json"),
          await fixtureRecord(shape),
          `${label}: the topology record`,
        );
        const describe = await runKcm(["describe", `--conf-dir=${confDir}`]);
        assert.equal(describe.code, 0, describe.stderr);
      });
    }
  });
}

/** The topology record of a fixture, as init must write it. */
async function fixtureRecord(shape: string): Promise<string> {
  const root = join(SYSFS, shape);
  return formatTopologyRecord({
    topology: await readTopology(root),
    isolated: await readIsolatedCpus(root),
  });
}

Deno.test("kcm init logs its steps and warns on no free hugepages", async () => {
  await withTemp(async (dir) => {
    await Deno.writeTextFile(
      join(dir, "meminfo"),
      "HugePages_Total:       0\nHugePages_Free:        0\n",
    );
    const result = await runKcm(
      ["init", `--conf-dir=${dir}/kcm`, "--num-dp-cores=2", "--num-cp-cores=1"],
      { env: { KCM_SYS_FS: join(SYSFS, "xeon_d_1x8x2"), KCM_PROC_FS: dir } },
    );
    assert.equal(result.code, 0);
    assert.equal(
      result.stderr,
      [
        "WARNING:root:No hugepages are free",
        `INFO:root:Writing config to ${dir}/kcm.`,
        "INFO:root:Requested data plane cores = 2.",
        "INFO:root:Requested control plane cores = 1.",
        "INFO:root:Adding dataplane pool.",
        "INFO:root:Adding 7,15 cpus to the dataplane pool.",
        "INFO:root:Adding 6,14 cpus to the dataplane pool.",
        "INFO:root:Adding controlplane pool.",
        "INFO:root:Adding 5,13 cpus to the controlplane pool.",
        "INFO:root:Adding infra pool.",
        "INFO:root:Adding 0,8,1,9,2,10,3,11,4,12 cpus to the infra pool.",
        "",
      ].join("\n"),
    );
    await Deno.writeTextFile(
      join(dir, "meminfo"),
      "HugePages_Free:      512\n",
    );
    const quiet = await runKcm([
      "init",
      `--conf-dir=${dir}/kcm2`,
      "--num-dp-cores=1",
    ], {
      env: {
        KCM_SYS_FS: join(SYSFS, "xeon_d_1x8x2"),
        KCM_PROC_FS: dir,
        KCM_LOG_LEVEL: "warning",
      },
    });
    assert.equal(quiet.code, 0);
    assert.equal(quiet.stderr, "");
  });
});

Deno.test("kcm init refuses an initialized directory and changes nothing", async () => {
  await withTemp(async (dir) => {
    const env = { KCM_SYS_FS: join(SYSFS, "xeon_d_1x8x2"), KCM_PROC_FS: dir };
    const first = await runKcm(["init", `--conf-dir=${dir}/kcm`], { env });
    assert.equal(first.code, 0, first.stderr);
    await Deno.writeTextFile(join(dir, "kcm/pools/dataplane/7,15/tasks"), "42");
    const before = await snapshotTree(join(dir, "kcm"));
    const second = await runKcm(["init", `--conf-dir=${dir}/kcm`], { env });
    assert.equal(second.code, 1);
    assert.match(
      second.stderr,
      new RegExp(
        `kcm: error: Config directory ${dir}/kcm already initialized\n`,
      ),
    );
    assert.deepEqual(await snapshotTree(join(dir, "kcm")), before);
  });
});

Deno.test("kcm init fills an existing empty directory", async () => {
  await withTemp(async (dir) => {
    const result = await runKcm([
      "init",
      `--conf-dir=${dir}`,
      "--num-dp-cores=1",
      "--num-cp-cores=0",
    ], {
      env: { KCM_SYS_FS: join(SYSFS, "this_machine_2"), KCM_PROC_FS: dir },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await listNames(dir), [
      "lock",
      "pools",
      "topology.json",
    ]);
  });
});

Deno.test("kcm init rejects bad counts before touching anything", async () => {
  await withTemp(async (dir) => {
    for (
      const flag of [
        "--num-dp-cores=x",
        "--num-cp-cores=-1",
        "--num-dp-cores=1.5",
      ]
    ) {
      const result = await runKcm(["init", `--conf-dir=${dir}/kcm`, flag]);
      assert.equal(result.code, 2, flag);
      assert.match(result.stderr, /must be a whole number >= 0/);
    }
    assert.deepEqual(await listNames(dir), []);
  });
});

Deno.test("kcm init reports an unreadable sysfs by file", async () => {
  await withTemp(async (dir) => {
    const result = await runKcm(["init", `--conf-dir=${dir}/kcm`], {
      env: {
        KCM_SYS_FS: join(dir, "nosys"),
        KCM_PROC_FS: dir,
        KCM_LOG_LEVEL: "ERROR",
      },
    });
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^kcm: error: .*nosys\/devices\/system\/cpu\/online/,
    );
    assert.equal(
      result.stderr.split("\n").filter((l) => l.startsWith("kcm:")).length,
      1,
    );
    assert.deepEqual(await listNames(dir), []);
  });
});

// Isolated CPUs and placement modes, through the CLI: every
// `placement_cases` entry of the fixtures (also checked in-process by
// tests/core/layout_test.ts).

interface PlacementCase extends ExpectedCase {
  options: {
    dataplaneMode?: string;
    controlplaneMode?: string;
    ignoreIsolcpus?: boolean;
  };
  warnings?: { message: string }[];
}

function placementFlags(options: PlacementCase["options"]): string[] {
  return [
    ...options.dataplaneMode ? [`--dp-mode=${options.dataplaneMode}`] : [],
    ...options.controlplaneMode
      ? [`--cp-mode=${options.controlplaneMode}`]
      : [],
    ...options.ignoreIsolcpus ? ["--ignore-isolcpus"] : [],
  ];
}

/** A procfs whose meminfo has free hugepages: init warns about nothing else. */
async function quietProcfs(dir: string): Promise<string> {
  const procfs = join(dir, "proc");
  await Deno.mkdir(procfs);
  await Deno.writeTextFile(join(procfs, "meminfo"), "HugePages_Free: 8\n");
  return procfs;
}

/** The pools and lists init logged ("Adding ..."), as a layout. */
function layoutFromLog(result: CliResult): ExpectedCase["layout"] {
  const layout: NonNullable<ExpectedCase["layout"]> = [];
  for (const line of result.stderr.split("\n")) {
    const pool = /^INFO:root:Adding (\S+) pool\.$/.exec(line);
    if (pool) {
      layout.push({
        name: pool[1]!,
        exclusive: pool[1] === "dataplane",
        cpuLists: [],
      });
    }
    const list = /^INFO:root:Adding (\S+) cpus to the (\S+) pool\.$/.exec(line);
    if (list) layout.at(-1)!.cpuLists.push(list[1]!);
  }
  return layout;
}

for (
  const shape of [
    "dual_snc2_2x20x2",
    "epyc_2x64x2_nps4",
    "hybrid_4p_8e",
    "xeon_d_1x8x2",
    "dual_2x3x2_interleaved",
  ]
) {
  Deno.test(`kcm init --dp-mode/--cp-mode/--ignore-isolcpus on ${shape} writes the expected pools and warnings`, async () => {
    const { placement_cases: cases } = JSON.parse(
      await Deno.readTextFile(join(SYSFS, shape, "expected_init.json")),
    ) as { placement_cases: PlacementCase[] };
    assert.ok(cases.length > 0);
    for (const c of cases) {
      await withTemp(async (dir) => {
        const confDir = join(dir, "kcm");
        const flags = placementFlags(c.options);
        const label = `${shape} dp=${c.dataplane} cp=${c.controlplane} ${
          flags.join(" ")
        }`;
        const result = await runKcm([
          "init",
          `--conf-dir=${confDir}`,
          `--num-dp-cores=${c.dataplane}`,
          `--num-cp-cores=${c.controlplane}`,
          ...flags,
        ], {
          env: {
            KCM_SYS_FS: join(SYSFS, shape),
            KCM_PROC_FS: await quietProcfs(dir),
          },
        });
        if (c.error !== undefined) {
          assert.equal(result.code, 1, label);
          assert.equal(
            result.stderr,
            `kcm: error: ${c.error}\nhint: isolate every thread of more ` +
              "cores (isolcpus=), ask for fewer cores, or pass " +
              "--ignore-isolcpus\n",
            label,
          );
          assert.deepEqual(await listNames(dir), ["proc"], label);
          return;
        }
        assert.equal(result.code, 0, `${label}: ${result.stderr}`);
        const warnings = result.stderr.split("\n")
          .filter((line) => line.startsWith("WARNING:"));
        assert.deepEqual(
          warnings,
          (c.warnings ?? []).map((w) => `WARNING:root:${w.message}`),
          label,
        );
        // What init logged is what it wrote.
        assert.deepEqual(layoutFromLog(result), c.layout, label);
        const tree = await snapshotTree(confDir);
        assert.deepEqual([...tree.keys()].sort(), expectedTree(c.layout!));
        assert.equal(tree.get("topology.json"), await fixtureRecord(shape));
      });
    }
  });
}

Deno.test("kcm init spread and packed differ on multi-node machines, not on one node", async () => {
  await withTemp(async (dir) => {
    const procfs = await quietProcfs(dir);
    const dataplane = async (shape: string, mode: string) => {
      const confDir = join(dir, `${shape}-${mode}`);
      const result = await runKcm([
        "init",
        `--conf-dir=${confDir}`,
        "--num-dp-cores=4",
        `--dp-mode=${mode}`,
        "--ignore-isolcpus",
      ], { env: { KCM_SYS_FS: join(SYSFS, shape), KCM_PROC_FS: procfs } });
      assert.equal(result.code, 0, result.stderr);
      return await listNames(join(confDir, "pools/dataplane"));
    };
    assert.deepEqual(await dataplane("dual_snc2_2x20x2", "packed"), [
      "36,76",
      "37,77",
      "38,78",
      "39,79",
      "exclusive",
    ]);
    assert.deepEqual(await dataplane("dual_snc2_2x20x2", "spread"), [
      "19,59",
      "29,69",
      "39,79",
      "9,49",
      "exclusive",
    ]);
    assert.deepEqual(await dataplane("epyc_2x64x2_nps4", "spread"), [
      "111,239",
      "127,255",
      "79,207",
      "95,223",
      "exclusive",
    ]);
    assert.deepEqual(
      await dataplane("hybrid_4p_8e", "spread"),
      await dataplane("hybrid_4p_8e", "packed"),
    );
  });
});

// Bad input: one line, the right exit status, nothing written.

Deno.test("kcm init rejects an unknown placement mode with a usage error, writing nothing", async () => {
  await withTemp(async (dir) => {
    for (
      const [flag, message] of [
        [
          "--dp-mode=spreed",
          '--dp-mode must be packed or spread, got "spreed"',
        ],
        ["--cp-mode=", '--cp-mode must be packed or spread, got ""'],
        [
          "--cp-mode=PACKED",
          '--cp-mode must be packed or spread, got "PACKED"',
        ],
        [
          "--ignore-isolcpus=yes",
          "--ignore-isolcpus must not have an argument",
        ],
      ]
    ) {
      const result = await runKcm(["init", `--conf-dir=${dir}/kcm`, flag!], {
        env: { KCM_SYS_FS: join(SYSFS, "xeon_d_1x8x2"), KCM_PROC_FS: dir },
      });
      assert.equal(result.code, 2, flag);
      assert.equal(result.stderr.split("\n")[0], `kcm: error: ${message}`);
      assert.equal(result.stderr.split("\n")[1], "Usage:");
    }
    assert.deepEqual(await listNames(dir), []);
  });
});

Deno.test("kcm init refuses an isolated file that is not a CPU list, naming file and text, writing nothing", async () => {
  await withTemp(async (dir) => {
    const sysfs = join(dir, "sys");
    await new Deno.Command("cp", {
      args: ["-r", join(SYSFS, "xeon_d_1x8x2"), sysfs],
    }).output();
    const isolated = join(sysfs, "devices/system/cpu/isolated");
    const procfs = await quietProcfs(dir);
    for (const junk of ["2-x\n", "7-3\n", "isolcpus=2\n"]) {
      await Deno.writeTextFile(isolated, junk);
      for (const extra of [[], ["--ignore-isolcpus"]]) {
        const result = await runKcm(
          ["init", `--conf-dir=${dir}/kcm`, ...extra],
          { env: { KCM_SYS_FS: sysfs, KCM_PROC_FS: procfs } },
        );
        assert.equal(result.code, 1, `${junk} ${extra}`);
        assert.equal(
          result.stderr,
          `kcm: error: Cannot parse ${isolated}: ${
            JSON.stringify(junk)
          } is not a CPU list\n`,
        );
        assert.deepEqual(await listNames(dir), ["proc", "sys"]);
      }
    }
  });
});
