import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT, runKcm } from "../_helpers/run_cli.ts";
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
  const entries = ["lock", "pools/"];
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
        const describe = await runKcm(["describe", `--conf-dir=${confDir}`]);
        assert.equal(describe.code, 0, describe.stderr);
      });
    }
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
