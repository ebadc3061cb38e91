/**
 * cpu-list directory names are checked everywhere they are read: a name
 * that is not a cpu list kcm accepts (`01`, the reversed `3-1`, an id above
 * 8191) is one error line from describe and isolate, a warning from
 * reconcile (which skips it and reconciles the rest), and a failed
 * configDirectory check in node-report, where the reference used the name
 * verbatim or read `3-1` as no CPU at all.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT, runKcm } from "../_helpers/run_cli.ts";
import { makeConfigDir, snapshotTree } from "../_helpers/temp_config_dir.ts";

const SYSFS = join(REPO_ROOT, "tests/fixtures/sysfs/this_machine_2");

Deno.test("cpu-list names 01, 3-1 and 8192 are refused by every command", async () => {
  const cases: [string, string][] = [
    ["01", '"01" is not a CPU id or a range of CPU ids'],
    ["3-1", 'range "3-1" is reversed'],
    ["8192", "CPU id 8192 is above 8191"],
  ];
  for (const [name, reason] of cases) {
    await using conf = await makeConfigDir({
      p: { exclusive: true, lists: { "0": "", [name]: "" } },
    });
    const before = await snapshotTree(conf.confDir);
    const error =
      `Malformed cpu list directory "${conf.confDir}/pools/p/${name}": Cannot parse CPU list "${name}": ${reason}`;
    const commands = [
      ["describe"],
      ["reconcile"],
      ["isolate", "--pool=p", "true"],
    ];
    for (const [command, ...rest] of commands) {
      const result = await runKcm([
        command!,
        `--conf-dir=${conf.confDir}`,
        ...rest,
      ]);
      if (command === "reconcile") {
        // One junk entry never stops reconcile for the rest of the node.
        assert.equal(result.code, 0, `${name}: ${command}`);
        assert.equal(result.stderr, `WARNING:root:Skipped: ${error}\n`);
        continue;
      }
      assert.equal(result.code, 1, `${name}: ${command}`);
      assert.equal(result.stdout, "", `${name}: ${command}`);
      assert.equal(result.stderr, `kcm: error: ${error}\n`, command);
    }
    const report = await runKcm(
      ["node-report", `--conf-dir=${conf.confDir}`],
      { env: { KCM_SYS_FS: SYSFS } },
    );
    assert.equal(report.code, 0, report.stderr);
    const parsed = JSON.parse(report.stdout);
    // The entry is set aside; the rest of the pool is described.
    assert.deepEqual(
      Object.keys(parsed.description.pools.p.cpuLists),
      ["0"],
      name,
    );
    assert.deepEqual(parsed.checks.configDirectory.errors, [error], name);
    assert.deepEqual(await snapshotTree(conf.confDir), before, name);
  }
});
