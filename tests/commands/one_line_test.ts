/**
 * One line means one line: whatever a name, a tasks file or an argument
 * holds (newlines, escape sequences), every error and log line kcm prints
 * is one line, the value in it escaped (core/quote.ts).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runKcm } from "../_helpers/run_cli.ts";
import { makeConfigDir } from "../_helpers/temp_config_dir.ts";

Deno.test("a tasks piece holding a newline is quoted on one line", async () => {
  await using conf = await makeConfigDir({
    p: { exclusive: true, lists: { "0": "1\n2,3" } },
  });
  const error =
    `Cannot parse tasks file "${conf.confDir}/pools/p/0/tasks": "1\\n2" is not a pid\n`;
  const describe = await runKcm(["describe", `--conf-dir=${conf.confDir}`]);
  assert.equal(describe.code, 1);
  assert.equal(describe.stderr, `kcm: error: ${error}`);
  // reconcile sets the entry aside and goes on with the rest of the node.
  const reconcile = await runKcm(["reconcile", `--conf-dir=${conf.confDir}`]);
  assert.equal(reconcile.code, 0);
  assert.equal(reconcile.stderr, `WARNING:root:Skipped: ${error}`);
});

Deno.test("names holding control characters are escaped in errors and logs", async () => {
  await using conf = await makeConfigDir({
    "a\nb": { exclusive: false, lists: { "0": "999995" } },
  });
  const procfs = join(conf.root, "proc"); // empty: every pid is dead
  await Deno.mkdir(procfs);
  const reconciled = await runKcm(
    ["reconcile", `--conf-dir=${conf.confDir}`],
    { env: { KCM_PROC_FS: procfs } },
  );
  assert.equal(reconciled.code, 0);
  assert.equal(
    reconciled.stderr,
    "INFO:root:Reclaimed a\\nb:0 from pids 999995\n",
  );

  await Deno.mkdir(join(conf.confDir, "pools/a\nb/x\u001b[31m"));
  const described = await runKcm(["describe", `--conf-dir=${conf.confDir}`]);
  assert.equal(described.code, 1);
  assert.equal(
    described.stderr,
    `kcm: error: Malformed cpu list directory "${conf.confDir}/pools/a\\nb/x\\u001b[31m": ` +
      `Cannot parse CPU list "x\\u001b[31m": "x\\u001b[31m" is not a CPU id or a range of CPU ids\n`,
  );

  const isolated = await runKcm([
    "isolate",
    `--conf-dir=${conf.confDir}`,
    "--pool=no\nsu\rch",
    "true",
  ]);
  assert.equal(isolated.code, 1);
  assert.equal(
    isolated.stderr,
    "kcm: error: Requested pool no\\nsu\\rch does not exist\n",
  );
});

Deno.test("a usage error quoting an argument is one line before the usage", async () => {
  const result = await runKcm(["describe", "x\ny"]);
  assert.equal(result.code, 2);
  assert.equal(
    result.stderr.split("\n")[0],
    'kcm: error: Unexpected argument "x\\ny"',
  );
  assert.equal(result.stderr.split("\n")[1], "Usage:");
});
