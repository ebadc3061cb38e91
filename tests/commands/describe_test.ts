import assert from "node:assert/strict";
import { join } from "node:path";
import { assertGolden } from "../_helpers/golden.ts";
import {
  cannotConfine,
  kcmArgv,
  readOnlyMount,
  runArgv,
  skipUnless,
} from "../_helpers/confine.ts";
import { REPO_ROOT, runKcm } from "../_helpers/run_cli.ts";
import { makeConfigDir, snapshotTree } from "../_helpers/temp_config_dir.ts";

/** The reference's `tests/data/config/ok` directory. */
const REFERENCE_OK = {
  controlplane: { exclusive: "0", lists: { "3,11": "" } },
  dataplane: {
    exclusive: "1",
    lists: { "4,12": "1000\n", "5,13": "1001,1002\n", "6,14": "", "7,15": "" },
  },
  infra: { exclusive: "0", lists: { "0-2,8-10": "3000,3001,3002\n" } },
};

Deno.test("kcm describe prints the reference JSON byte for byte", async () => {
  await using config = await makeConfigDir(REFERENCE_OK);
  const result = await runKcm(["describe", `--conf-dir=${config.confDir}/./`]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, "");
  await assertGolden(
    "describe_ok.json",
    result.stdout.replace(config.confDir, "/etc/kcm"),
  );
  const parsed = JSON.parse(result.stdout);
  assert.equal(parsed.path, config.confDir, "path is normalised");
  assert.deepEqual(parsed.pools.dataplane.cpuLists["5,13"], {
    cpus: "5,13",
    tasks: [1001, 1002],
  });
});

Deno.test("kcm describe prints the same bytes with a topology record beside the pools", async () => {
  await using config = await makeConfigDir(REFERENCE_OK);
  // The record a kcm init on the reference's machine shape would write.
  const init = await runKcm([
    "init",
    `--conf-dir=${config.root}/other`,
  ], {
    env: {
      KCM_SYS_FS: join(REPO_ROOT, "tests/fixtures/sysfs/xeon_d_1x8x2"),
      KCM_PROC_FS: config.root,
      KCM_LOG_LEVEL: "ERROR",
    },
  });
  assert.equal(init.code, 0, init.stderr);
  await Deno.copyFile(
    `${config.root}/other/topology.json`,
    `${config.confDir}/topology.json`,
  );
  const result = await runKcm(["describe", `--conf-dir=${config.confDir}`]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, "");
  await assertGolden(
    "describe_ok.json",
    result.stdout.replace(config.confDir, "/etc/kcm"),
  );
});

const READ_ONLY = "kcm describe works on a read-only mount (shared lock)";
Deno.test({
  name: READ_ONLY,
  ignore: skipUnless(READ_ONLY, cannotConfine),
  async fn() {
    await using config = await makeConfigDir(REFERENCE_OK);
    const conf = `--conf-dir=${config.confDir}`;
    const expected = await runKcm(["describe", conf]);
    const readOnly = readOnlyMount(config.confDir);
    const result = await runArgv([...readOnly, ...kcmArgv(["describe", conf])]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "");
    assert.equal(result.stdout, expected.stdout);
    // The mount is read-only indeed: a writer cannot even open the lock.
    const writer = await runArgv([
      ...readOnly,
      ...kcmArgv(["isolate", conf, "--pool=infra", "true"]),
    ]);
    assert.equal(writer.code, 1);
    assert.equal(
      writer.stderr,
      `kcm: error: Cannot open lock file "${
        join(config.confDir, "lock")
      }": read-only file system\n`,
    );
  },
});

Deno.test("kcm describe on a bad config dir: one clear line, exit 1, nothing changed", async () => {
  const cases: [string, (dir: string) => Promise<void>, RegExp][] = [
    [
      "missing exclusive",
      (d) => Deno.remove(join(d, "pools/dataplane/exclusive")),
      /^kcm: error: Cannot read pool flag ".*\/pools\/dataplane\/exclusive": no such file or directory\n$/,
    ],
    [
      "garbage in tasks",
      (d) =>
        Deno.writeTextFile(join(d, "pools/infra/0-2,8-10/tasks"), "12,abc"),
      /^kcm: error: Cannot parse tasks file ".*\/pools\/infra\/0-2,8-10\/tasks": "abc" is not a pid\n$/,
    ],
    [
      "missing pools/",
      (d) => Deno.remove(join(d, "pools"), { recursive: true }),
      /^kcm: error: Cannot read config directory ".*\/pools": no such file or directory\nhint: run `kcm init` to create the config directory\n$/,
    ],
    [
      "malformed cpu list name",
      (d) => Deno.mkdir(join(d, "pools/infra/1-x")),
      /^kcm: error: Malformed cpu list directory ".*\/pools\/infra\/1-x": Cannot parse CPU list "1-x": "1-x" is not a CPU id or a range of CPU ids\n$/,
    ],
    [
      "missing tasks",
      (d) => Deno.remove(join(d, "pools/dataplane/6,14/tasks")),
      /^kcm: error: Cannot read tasks file ".*\/pools\/dataplane\/6,14\/tasks": no such file or directory\n$/,
    ],
    [
      "missing lock",
      (d) => Deno.remove(join(d, "lock")),
      /^kcm: error: Cannot open lock file ".*\/lock": no such file or directory\nhint: run `kcm init` to create the config directory\n$/,
    ],
  ];
  for (const [label, breakIt, message] of cases) {
    await using config = await makeConfigDir(REFERENCE_OK);
    await breakIt(config.confDir);
    const before = await snapshotTree(config.confDir);
    const result = await runKcm(["describe", `--conf-dir=${config.confDir}`]);
    assert.equal(result.code, 1, label);
    assert.equal(result.stdout, "", label);
    assert.match(result.stderr, message, label);
    assert.deepEqual(await snapshotTree(config.confDir), before, label);
  }
});
