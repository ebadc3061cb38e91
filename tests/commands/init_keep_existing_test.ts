/**
 * `kcm init --keep-existing`, as cluster-init's setup pods run it: an
 * existing config directory with the requested layout is kept (exit 0,
 * nothing written), one with another layout is an error naming the pools
 * that differ, and without a directory it is a plain init.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT, runKcm } from "../_helpers/run_cli.ts";
import { snapshotTree } from "../_helpers/temp_config_dir.ts";

const SYSFS = join(REPO_ROOT, "tests/fixtures/sysfs/xeon_d_1x8x2");

Deno.test("kcm init --keep-existing keeps the same layout, refuses another", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "kcm-keep-" });
  const confDir = join(dir, "kcm");
  const init = (dp: number, cp: number, keep = true) =>
    runKcm([
      "init",
      `--conf-dir=${confDir}`,
      `--num-dp-cores=${dp}`,
      `--num-cp-cores=${cp}`,
      ...(keep ? ["--keep-existing"] : []),
    ], { env: { KCM_SYS_FS: SYSFS, KCM_LOG_LEVEL: "INFO" } });
  try {
    await t.step("without a directory it initialises", async () => {
      const result = await init(4, 1);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /Writing config to /);
    });
    const before = await snapshotTree(confDir);

    await t.step("the same sizes again: kept, nothing written", async () => {
      const result = await init(4, 1);
      assert.equal(result.code, 0, result.stderr);
      assert.match(
        result.stderr,
        /INFO:root:Config directory \S+ already has the requested layout; kept as it is\.\n$/,
      );
      assert.deepEqual(await snapshotTree(confDir), before);
    });

    // Negative cases.
    await t.step("other sizes: an error naming the pools", async () => {
      const result = await init(2, 1);
      assert.equal(result.code, 1);
      const lines = result.stderr.split("\n").filter((l) =>
        l.startsWith("kcm: error:")
      );
      assert.equal(lines.length, 1, result.stderr);
      assert.match(
        lines[0]!,
        /^kcm: error: Config directory \S+ exists with another layout than --num-dp-cores=2 --num-cp-cores=1: pool "controlplane" has 1 cpu list \(\S+\), the requested layout 1 \(\S+\); pool "dataplane" has 4 cpu lists \(.+\), the requested layout 2 \(.+\); pool "infra" .*$/,
      );
      assert.match(result.stderr, /\nhint: request the layout the node has/);
      assert.deepEqual(await snapshotTree(confDir), before);
    });

    await t.step("without --keep-existing it still refuses", async () => {
      const result = await init(4, 1, false);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /already initialized/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
