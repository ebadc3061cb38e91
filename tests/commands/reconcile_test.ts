/**
 * `kcm reconcile` as a real process: the report's exact bytes against a
 * fake procfs and against the real /proc, what it writes back to the tasks
 * files, its `--interval` loop, and its refusals.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT, runKcm, spawnKcm } from "../_helpers/run_cli.ts";
import {
  makeConfigDir,
  snapshotTree,
  type TempConfig,
} from "../_helpers/temp_config_dir.ts";
import { waitFor } from "../_helpers/wait.ts";
import { signalBetweenRounds } from "../_helpers/process_output.ts";

const MIXED = join(REPO_ROOT, "tests/fixtures/procfs/mixed_tasks");

function reconcile(conf: TempConfig, ...flags: string[]): string[] {
  return ["reconcile", `--conf-dir=${conf.confDir}`, ...flags];
}

/** The `Cpus_allowed_list` of this test process. */
const OWN_MASK = /^Cpus_allowed_list:\s*(\S+)$/m.exec(
  await Deno.readTextFile("/proc/self/status"),
)![1]!;

/** The pid of a process that has come and gone. */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true", { stdout: "null", stderr: "null" })
    .spawn();
  await child.status;
  await assert.rejects(Deno.lstat(`/proc/${child.pid}`), Deno.errors.NotFound);
  return child.pid;
}

/** Accumulates a stream's text as it arrives. */
function collect(stream: ReadableStream<Uint8Array>) {
  const sink = { text: "", done: Promise.resolve() };
  sink.done = stream.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({
      write(chunk) {
        sink.text += chunk;
      },
    }),
  );
  return sink;
}

/** Replaces a file in one step, so a reader never sees it half written. */
async function writeAtomic(path: string, text: string): Promise<void> {
  await Deno.writeTextFile(`${path}.new`, text);
  await Deno.rename(`${path}.new`, path);
}

/** Splits concatenated JSON documents (each ends with a "}" line). */
function documents(text: string): unknown[] {
  return text.split(/(?<=^\}\n)/m).filter((doc) => doc !== "").map((doc) =>
    JSON.parse(doc)
  );
}

Deno.test("reconcile reclaims dead pids and reports drifted masks (fake procfs, exact bytes)", async () => {
  await using conf = await makeConfigDir({
    controlplane: { exclusive: false, lists: { "1": "102" } },
    dataplane: { exclusive: true, lists: { "0": "200", "1": "101,201" } },
    infra: { exclusive: false, lists: { "0-1": "300,103,200,100\n" } },
    spare: { exclusive: true, lists: { "1": "104" } },
  });
  const result = await runKcm(reconcile(conf), {
    env: { KCM_PROC_FS: MIXED },
  });
  assert.equal(result.code, 0, result.stderr);
  // Sorted keys, 2-space indent, arrays stable-sorted by pid (200 appears
  // in two lists and is reported twice, in pool order), one newline.
  assert.equal(
    result.stdout,
    `{
  "mismatchedCpuMasks": [
    {
      "actualCpus": [
        0
      ],
      "cpus": "1",
      "pid": 101,
      "pool": "dataplane"
    },
    {
      "actualCpus": [
        0,
        1
      ],
      "cpus": "1",
      "pid": 102,
      "pool": "controlplane"
    }
  ],
  "reclaimedCpuLists": [
    {
      "cpus": "0",
      "pid": 200,
      "pool": "dataplane"
    },
    {
      "cpus": "0-1",
      "pid": 200,
      "pool": "infra"
    },
    {
      "cpus": "1",
      "pid": 201,
      "pool": "dataplane"
    },
    {
      "cpus": "0-1",
      "pid": 300,
      "pool": "infra"
    }
  ]
}
`,
  );
  // Dead pids are gone, live ones kept in file order; drift is not fixed.
  assert.equal(await conf.tasks("controlplane", "1"), "102");
  assert.equal(await conf.tasks("dataplane", "0"), "");
  assert.equal(await conf.tasks("dataplane", "1"), "101");
  assert.equal(await conf.tasks("infra", "0-1"), "103,100");
  assert.equal(await conf.tasks("spare", "1"), "104");
  const logs = result.stderr.trimEnd().split("\n");
  assert.ok(logs.every((line) => line.startsWith("INFO:root:")), result.stderr);

  // A second run finds nothing more to reclaim and writes nothing.
  const before = await snapshotTree(conf.confDir);
  const again = await runKcm(reconcile(conf), { env: { KCM_PROC_FS: MIXED } });
  assert.equal(again.code, 0);
  assert.deepEqual(
    (JSON.parse(again.stdout) as { reclaimedCpuLists: unknown[] })
      .reclaimedCpuLists,
    [],
  );
  assert.deepEqual(await snapshotTree(conf.confDir), before);
});

Deno.test("reconcile reports the same dead pid once per list holding it, and empties both", async () => {
  await using conf = await makeConfigDir({
    a: { exclusive: true, lists: { "0": "555" } },
    b: { exclusive: false, lists: { "0-1": "100,555", "1": "555,555" } },
  });
  const result = await runKcm(reconcile(conf), {
    env: { KCM_PROC_FS: MIXED },
  });
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), {
    mismatchedCpuMasks: [],
    reclaimedCpuLists: [
      { cpus: "0", pid: 555, pool: "a" },
      { cpus: "0-1", pid: 555, pool: "b" },
      { cpus: "1", pid: 555, pool: "b" },
      { cpus: "1", pid: 555, pool: "b" },
    ],
  });
  assert.equal(await conf.tasks("a", "0"), "");
  assert.equal(await conf.tasks("b", "0-1"), "100");
  assert.equal(await conf.tasks("b", "1"), "");
});

Deno.test("reconcile reclaims in pools without an exclusive file, as the reference did", async () => {
  // The flag plays no part in reclaiming, and the reference never read it
  // here: one pool without it must not stop reclaiming for the node.
  await using conf = await makeConfigDir({
    a: { exclusive: true, lists: { "0": "999997" } },
    noflag: { exclusive: false, lists: { "1": "999998" } },
  });
  await Deno.remove(join(conf.confDir, "pools/noflag/exclusive"));
  const procfs = join(conf.root, "proc"); // empty: every pid is dead
  await Deno.mkdir(procfs);
  const result = await runKcm(reconcile(conf), {
    env: { KCM_PROC_FS: procfs, KCM_LOG_LEVEL: "WARNING" },
  });
  assert.equal(result.stderr, "");
  assert.equal(result.code, 0);
  assert.deepEqual(JSON.parse(result.stdout).reclaimedCpuLists, [
    { cpus: "0", pid: 999997, pool: "a" },
    { cpus: "1", pid: 999998, pool: "noflag" },
  ]);
  assert.equal(await conf.tasks("a", "0"), "");
  assert.equal(await conf.tasks("noflag", "1"), "");
});

Deno.test("reconcile lists entries of one pid in code point order of the names, as Python sorts", async () => {
  // UTF-16 order puts "😀" (D83D DE00) before U+FFFF; code points do not.
  await using conf = await makeConfigDir({
    "\u{1f600}": { exclusive: false, lists: { "0": "999996" } },
    "\uffff": { exclusive: false, lists: { "0": "999996" } },
    "\ue000": { exclusive: false, lists: { "0": "999996" } },
  });
  const procfs = join(conf.root, "proc"); // empty: every pid is dead
  await Deno.mkdir(procfs);
  const result = await runKcm(reconcile(conf), {
    env: { KCM_PROC_FS: procfs, KCM_LOG_LEVEL: "WARNING" },
  });
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(
    JSON.parse(result.stdout).reclaimedCpuLists.map((e: { pool: string }) =>
      e.pool
    ),
    ["\ue000", "\uffff", "\u{1f600}"],
  );
  assert.match(result.stdout, /"\\ue000"[^]*"\\uffff"[^]*"\\ud83d\\ude00"/);
});

Deno.test("reconcile with no tasks prints an empty report and never reads procfs", async () => {
  await using conf = await makeConfigDir({
    dataplane: { exclusive: true, lists: { "0": "", "1": "\n" } },
    infra: { exclusive: false, lists: {} },
  });
  const before = await snapshotTree(conf.confDir);
  const result = await runKcm(reconcile(conf), {
    env: { KCM_PROC_FS: join(conf.root, "no-procfs-here") },
  });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(
    result.stdout,
    '{\n  "mismatchedCpuMasks": [],\n  "reclaimedCpuLists": []\n}\n',
  );
  assert.equal(result.stderr, "");
  assert.deepEqual(await snapshotTree(conf.confDir), before);
});

Deno.test("reconcile on the real /proc reclaims a really dead pid and keeps a live one", async () => {
  const dead = await deadPid();
  const self = Deno.pid;
  const wrong = OWN_MASK === "0" ? "1" : "0";
  await using conf = await makeConfigDir({
    a: { exclusive: false, lists: { [OWN_MASK]: `${dead},${self}` } },
    b: { exclusive: true, lists: { [wrong]: `${self}` } },
  });
  const result = await runKcm(reconcile(conf));
  assert.equal(result.code, 0, result.stderr);
  const actualCpus = /^(\d+)-(\d+)$/.test(OWN_MASK)
    ? (() => {
      const [lo, hi] = OWN_MASK.split("-").map(Number);
      return Array.from({ length: hi! - lo! + 1 }, (_, i) => lo! + i);
    })()
    : OWN_MASK.split(",").map(Number);
  assert.deepEqual(JSON.parse(result.stdout), {
    mismatchedCpuMasks: [{ actualCpus, cpus: wrong, pid: self, pool: "b" }],
    reclaimedCpuLists: [{ cpus: OWN_MASK, pid: dead, pool: "a" }],
  });
  assert.equal(await conf.tasks("a", OWN_MASK), String(self));
  assert.equal(await conf.tasks("b", wrong), String(self));
});

Deno.test("reconcile removes temporary files a killed writer left", async () => {
  await using conf = await makeConfigDir({
    a: { exclusive: true, lists: { "0": "" } },
  });
  const temp = join(conf.confDir, "pools/a/0/.kcm-tmp-tasks.77.deadbeef");
  await Deno.writeTextFile(temp, "12,1");
  const result = await runKcm(reconcile(conf));
  assert.equal(result.code, 0, result.stderr);
  await assert.rejects(Deno.stat(temp), Deno.errors.NotFound);
  assert.match(result.stderr, /^INFO:root:.*\.kcm-tmp-tasks\.77\.deadbeef$/m);
  assert.equal(await conf.tasks("a", "0"), "");
});

// Junk is skipped, the rest reconciled; a broken procfs is refused.

Deno.test("reconcile skips garbage in tasks with one warning and reconciles the other lists", async () => {
  await using conf = await makeConfigDir({
    a: { exclusive: false, lists: { "0": "200", "1": "7;8" } },
  });
  const result = await runKcm(reconcile(conf), {
    env: { KCM_PROC_FS: MIXED },
  });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(
    result.stdout,
    `{
  "mismatchedCpuMasks": [],
  "reclaimedCpuLists": [
    {
      "cpus": "0",
      "pid": 200,
      "pool": "a"
    }
  ]
}
`,
  );
  assert.match(
    result.stderr,
    /^WARNING:root:Skipped: Cannot parse tasks file ".*\/pools\/a\/1\/tasks": "7;8" is not a pid$/m,
  );
  assert.equal(await conf.tasks("a", "0"), "");
  assert.equal(await conf.tasks("a", "1"), "7;8", "the junk is left alone");
});

Deno.test("reconcile refuses a status without Cpus_allowed_list, writing nothing", async () => {
  await using conf = await makeConfigDir({
    a: { exclusive: false, lists: { "0": "200", "1": "100" } },
  });
  const before = await snapshotTree(conf.confDir);
  const result = await runKcm(reconcile(conf), {
    env: {
      KCM_PROC_FS: join(REPO_ROOT, "tests/fixtures/procfs/status_without_mask"),
    },
  });
  assert.equal(result.code, 1);
  assert.equal(result.stdout, "");
  assert.match(
    result.stderr,
    /^kcm: error: No Cpus_allowed_list line in ".*\/100\/status"\n$/,
  );
  assert.deepEqual(await snapshotTree(conf.confDir), before);
});

Deno.test("reconcile --publish without Kubernetes settings fails with a clear message", async () => {
  await using conf = await makeConfigDir({
    a: { exclusive: false, lists: { "0": "" } },
  });
  const home = join(conf.root, "home");
  await Deno.mkdir(home);
  const denoDir = Deno.env.get("DENO_DIR") ??
    join(Deno.env.get("HOME") ?? "/root", ".cache/deno");
  const result = await runKcm(reconcile(conf, "--publish"), {
    clearEnv: true,
    env: { HOME: home, DENO_DIR: denoDir },
  });
  assert.equal(result.code, 1, result.stderr);
  const lines = result.stderr.trimEnd().split("\n");
  assert.match(lines[0]!, /^kcm: error: .*kubeconfig/i);
  assert.ok(lines.length <= 2, result.stderr);
  if (lines[1] !== undefined) assert.match(lines[1], /^hint: .*KUBECONFIG/);
});

Deno.test("reconcile --interval=1 reports every second, survives a bad iteration and stops on SIGTERM", async () => {
  const [dead1, dead2] = [await deadPid(), await deadPid()];
  await using conf = await makeConfigDir({
    p: { exclusive: false, lists: { "0": `${dead1}`, "1": "" } },
  });
  const tasks1 = join(conf.confDir, "pools/p/1/tasks");
  const kcm = spawnKcm(reconcile(conf, "--interval=1"));
  const out = collect(kcm.stdout), err = collect(kcm.stderr);
  try {
    const first = await waitFor("the first report", () => {
      const docs = documents(out.text);
      return docs.length > 0 ? docs[0] : undefined;
    });
    assert.deepEqual(first, {
      mismatchedCpuMasks: [],
      reclaimedCpuLists: [{ cpus: "0", pid: dead1, pool: "p" }],
    });
    const lock = join(conf.confDir, "lock");
    await Deno.rename(lock, `${lock}.away`);
    await waitFor(
      "the error to be logged",
      () =>
        /^ERROR:root:reconciliation failed: Cannot open lock file .*no such file or directory$/m
            .test(err.text)
          ? true
          : undefined,
    );
    const good = documents(out.text).length;
    await writeAtomic(tasks1, `${dead2}`);
    await Deno.rename(`${lock}.away`, lock);
    const reports = await waitFor("a report after the repair", () => {
      const docs = documents(out.text) as { reclaimedCpuLists: unknown[] }[];
      return docs.length > good ? docs : undefined;
    });
    assert.deepEqual(reports.at(-1), {
      mismatchedCpuMasks: [],
      reclaimedCpuLists: [{ cpus: "1", pid: dead2, pool: "p" }],
    });
    // In between, the good iterations found nothing to do.
    for (const report of reports.slice(1, -1)) {
      assert.deepEqual(report, {
        mismatchedCpuMasks: [],
        reclaimedCpuLists: [],
      });
    }
    // Stop it while it waits for the next iteration.
    const { status, ms } = await signalBetweenRounds(kcm, err, "SIGTERM");
    assert.equal(status.signal, null, "SIGTERM ends the loop");
    assert.equal(status.code, 0);
    assert.ok(ms < 900, `did not wait the interval (${ms.toFixed(0)} ms)`);
  } finally {
    try {
      kcm.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await Promise.all([out.done, err.done]);
  }
  assert.ok(out.text.endsWith("}\n"), "no half-written report");
  assert.match(err.text, /^INFO:root:Stopping on SIGTERM$/m);
  assert.equal(await conf.tasks("p", "0"), "");
  assert.equal(await conf.tasks("p", "1"), "");
});
