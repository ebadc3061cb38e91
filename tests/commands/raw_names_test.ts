/**
 * Pool and cpu-list directories whose names are not UTF-8 (Latin-1 bytes,
 * say): describe, reconcile and node-report read them, print them as the
 * reference did (a byte 0xe9 that is no UTF-8 as `\udce9`), and reconcile
 * rewrites tasks files below them; a list name that is no cpu list is one
 * error line. Never an internal error.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { kcmArgv, runArgv } from "../_helpers/confine.ts";
import { REPO_ROOT, runKcm } from "../_helpers/run_cli.ts";
import {
  makeConfigDir,
  readUnderBytes,
  renameToBytes,
  sh,
} from "../_helpers/temp_config_dir.ts";

const SYSFS = join(REPO_ROOT, "tests/fixtures/sysfs/this_machine_2");
/** Every name and file content below `dir`, whatever bytes the names hold. */
function snapshot(dir: string): Promise<string> {
  return sh(
    'cd "$1" && find . | sort && find . -type f -exec sha256sum {} + | sort',
    dir,
  );
}

/** `café` in Latin-1: 0xe9 is no UTF-8. */
const CAFE = [0x63, 0x61, 0x66, 0xe9];

async function latin1Config() {
  const config = await makeConfigDir({
    a: { exclusive: true, lists: { "0-1": "" } },
    cafe: { exclusive: false, lists: { "1": "999999\n" } },
  });
  await renameToBytes(join(config.confDir, "pools/cafe"), CAFE);
  return config;
}

Deno.test("describe prints a pool name that is not UTF-8 as the reference did", async () => {
  await using config = await latin1Config();
  const result = await runKcm(["describe", `--conf-dir=${config.confDir}`]);
  assert.equal(result.stderr, "");
  assert.equal(result.code, 0);
  assert.equal(
    result.stdout,
    `{
  "path": ${JSON.stringify(config.confDir)},
  "pools": {
    "a": {
      "cpuLists": {
        "0-1": {
          "cpus": "0-1",
          "tasks": []
        }
      },
      "exclusive": true,
      "name": "a"
    },
    "caf\\udce9": {
      "cpuLists": {
        "1": {
          "cpus": "1",
          "tasks": [
            999999
          ]
        }
      },
      "exclusive": false,
      "name": "caf\\udce9"
    }
  }
}
`,
  );
});

Deno.test("reconcile reclaims a list below a pool name that is not UTF-8", async () => {
  await using config = await latin1Config();
  const procfs = join(config.root, "proc"); // empty: every pid is dead
  await Deno.mkdir(procfs);
  const result = await runKcm(["reconcile", `--conf-dir=${config.confDir}`], {
    env: { KCM_PROC_FS: procfs },
  });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(
    result.stdout,
    `{
  "mismatchedCpuMasks": [],
  "reclaimedCpuLists": [
    {
      "cpus": "1",
      "pid": 999999,
      "pool": "caf\\udce9"
    }
  ]
}
`,
  );
  assert.equal(
    result.stderr,
    "INFO:root:Reclaimed caf\\udce9:1 from pids 999999\n",
  );
  assert.equal(
    await readUnderBytes(join(config.confDir, "pools"), CAFE, "1/tasks"),
    "",
  );
});

Deno.test("node-report checks and describes a pool name that is not UTF-8", async () => {
  await using config = await latin1Config();
  const result = await runKcm(["node-report", `--conf-dir=${config.confDir}`], {
    env: { KCM_SYS_FS: SYSFS, KCM_PROC_FS: join(config.root, "none") },
  });
  assert.equal(result.code, 0, result.stderr);
  assert.ok(
    result.stdout.includes(
      '"CPU list overlap detected in a:0-1 and caf\\udce9:1 (in both: [1])"',
    ),
    result.stdout,
  );
  const report = JSON.parse(result.stdout);
  assert.deepEqual(Object.keys(report.description.pools), ["a", "caf\udce9"]);
});

Deno.test("a cpu-list name that is not UTF-8 is one error line, not a crash", async () => {
  await using config = await makeConfigDir({
    p: { exclusive: true, lists: { "0": "", "1": "" } },
  });
  await renameToBytes(join(config.confDir, "pools/p/1"), [0x31, 0xff]);
  const before = await snapshot(config.confDir);
  const line =
    `kcm: error: Malformed cpu list directory "${config.confDir}/pools/p/1\\udcff": ` +
    `Cannot parse CPU list "1\\udcff": "1\\udcff" is not a CPU id or a range of CPU ids\n`;
  for (const command of ["describe", "reconcile", "isolate"]) {
    const args = [command, `--conf-dir=${config.confDir}`];
    if (command === "isolate") args.push("--pool=p", "true");
    const result = await runKcm(args);
    if (command === "reconcile") {
      // One junk entry never stops reconcile for the rest of the node.
      assert.equal(result.code, 0, command);
      assert.equal(
        result.stderr,
        `WARNING:root:Skipped: ${line.slice("kcm: error: ".length)}`,
      );
      continue;
    }
    assert.equal(result.code, 1, command);
    assert.equal(result.stdout, "", command);
    assert.equal(result.stderr, line, command);
  }
  const report = await runKcm(["node-report", `--conf-dir=${config.confDir}`], {
    env: { KCM_SYS_FS: SYSFS },
  });
  assert.equal(report.code, 0, report.stderr);
  assert.deepEqual(JSON.parse(report.stdout).checks.configDirectory.errors, [
    line.slice("kcm: error: ".length, -1),
  ]);
  assert.equal(await snapshot(config.confDir), before);
});

Deno.test("a pool name that is not UTF-8 cannot be named on the command line (a limit)", async () => {
  // Deno turns an argument that is not UTF-8 into U+FFFD before kcm sees
  // it: isolate looks for a pool "caf\ufffd" and says so.
  await using config = await latin1Config();
  const result = await runArgv([
    "sh",
    "-c",
    'exec "$@" --pool="$(printf \'caf\\351\')" true',
    "sh",
    ...kcmArgv(["isolate", `--conf-dir=${config.confDir}`]),
  ]);
  assert.equal(result.code, 1);
  assert.equal(
    result.stderr,
    "kcm: error: Requested pool caf\ufffd does not exist\n",
  );
});
