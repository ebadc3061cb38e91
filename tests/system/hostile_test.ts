/**
 * What a hostile node does to kcm, one case each, on real processes: a
 * workload killed by a real-time signal, kcm as pid 1 of a pid namespace
 * (orphans reaped; its own procfs refused), SIGTERM while kcm waits for
 * the lock, `init` under umask 000, and a user without rights reading the
 * directory. The random attacks are in tests/system/attack.ts.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { finish, REPO_ROOT, runKcm, spawnKcm } from "../_helpers/run_cli.ts";
import { makeConfigDir } from "../_helpers/temp_config_dir.ts";
import {
  AS_NOBODY,
  cannotConfine,
  kcmArgv,
  runArgv,
  skipUnless,
} from "../_helpers/confine.ts";
import { waitFor } from "../_helpers/wait.ts";

const UNSHARE_PID = ["unshare", "--pid", "--fork", "--mount-proc"];

Deno.test("isolate exits 128+N, with no stack trace, when a real-time signal kills the child", async () => {
  await using conf = await makeConfigDir({
    p: { exclusive: true, lists: { "0": "" } },
  });
  for (const signal of [34, 37, 64]) {
    const result = await runKcm([
      "isolate",
      `--conf-dir=${conf.confDir}`,
      "--pool=p",
      "sh",
      "--",
      "-c",
      `kill -${signal} $$`,
    ]);
    assert.equal(result.code, 128 + signal, result.stderr);
    assert.equal(result.stderr, "");
    assert.equal(await conf.tasks("p", "0"), "", "list given back");
  }
});

const REAP = "kcm as pid 1 reaps the orphans its command leaves";
Deno.test({
  name: REAP,
  ignore: skipUnless(REAP, cannotConfine),
  async fn() {
    await using conf = await makeConfigDir({
      p: { exclusive: true, lists: { "0": "" } },
    });
    // Two orphans (each writes its pid to a file, then sleeps 0.1 s). The
    // command waits, at most 5 s, until neither is in /proc any more (a
    // zombie still is: only being reaped takes it out), then counts
    // zombies. Not reaped: the wait runs out and two zombies are left.
    const pids = await Deno.makeTempDir({ prefix: "kcm-orphans-" });
    const script = [
      `d=${pids}`,
      "(sh -c 'echo $$ > $0/a; exec sleep 0.1' $d &)",
      "(sh -c 'echo $$ > $0/b; exec sleep 0.1' $d &)",
      "for f in a b; do while [ ! -s $d/$f ]; do sleep 0.01; done; done",
      "i=0",
      "while [ $i -lt 100 ] && { [ -e /proc/$(cat $d/a) ] || [ -e /proc/$(cat $d/b) ]; }; do sleep 0.05; i=$((i+1)); done",
      'echo "pid1=$(cat /proc/1/comm)"',
      'grep -l "^State:.Z" /proc/[0-9]*/status | wc -l',
    ].join("\n");
    const result = await runArgv([
      ...UNSHARE_PID,
      ...kcmArgv([
        "isolate",
        `--conf-dir=${conf.confDir}`,
        "--pool=p",
        "--no-affinity",
        "sh",
        "--",
        "-c",
        script,
      ]),
    ], { KCM_SHARED_PID_NAMESPACE: "1" }).finally(() =>
      Deno.remove(pids, { recursive: true })
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "pid1=deno\n0\n");
    assert.equal(await conf.tasks("p", "0"), "");
  },
});

const OWN_PROCFS =
  "isolate and reconcile refuse the procfs of their own pid namespace";
Deno.test({
  name: OWN_PROCFS,
  ignore: skipUnless(OWN_PROCFS, cannotConfine),
  async fn() {
    await using conf = await makeConfigDir({
      p: { exclusive: true, lists: { "0": "" } },
    });
    for (const args of [["isolate", "--pool=p", "true"], ["reconcile"]]) {
      const result = await runArgv([
        ...UNSHARE_PID,
        ...kcmArgv([args[0]!, `--conf-dir=${conf.confDir}`, ...args.slice(1)]),
      ]);
      assert.equal(result.code, 1, result.stderr);
      assert.match(
        result.stderr,
        /^kcm: error: KCM_PROC_FS "\/proc" is the procfs of kcm's own pid namespace \(pid:\[[0-9]+\], where kcm is pid 1\), not the host's: pids recorded from it clash with other containers'\nhint: mount the host's \/proc/,
      );
      assert.equal(await conf.tasks("p", "0"), "", "nothing claimed");
    }
  },
});

/** True while some process waits for a flock(2) on the file `path`. */
async function someoneWaitsOn(path: string): Promise<true | undefined> {
  const ino = (await Deno.stat(path)).ino;
  const locks = await Deno.readTextFile("/proc/locks");
  return locks.split("\n").some((line) =>
      line.includes("->") && line.includes(`:${ino} `)
    )
    ? true
    : undefined;
}

Deno.test("SIGTERM while isolate waits for the lock ends the wait at once, 143, nothing started", async () => {
  await using conf = await makeConfigDir({
    p: { exclusive: true, lists: { "0": "" } },
  });
  const lock = join(conf.confDir, "lock");
  const holder = new Deno.Command("flock", {
    args: ["--exclusive", lock, "sleep", "60"],
  }).spawn();
  const started = join(conf.root, "started");
  const kcm = spawnKcm([
    "isolate",
    `--conf-dir=${conf.confDir}`,
    "--pool=p",
    "touch",
    "--",
    started,
  ], { env: { KCM_LOCK_TIMEOUT: "60" } });
  try {
    await waitFor("isolate to wait for the lock", () => someoneWaitsOn(lock));
    const sent = performance.now();
    kcm.kill("SIGTERM");
    const result = await finish(kcm);
    const took = performance.now() - sent;
    assert.equal(result.code, 143, result.stderr);
    assert.match(
      result.stderr,
      /^WARNING:root:Caught SIGTERM before claiming a cpu list; not starting touch\n$/,
    );
    assert.ok(took < 5000, `ended ${took.toFixed(0)} ms after the signal`);
    assert.equal(await Deno.stat(started).catch(() => undefined), undefined);
  } finally {
    holder.kill("SIGKILL");
    await holder.status;
  }
  assert.equal(await conf.tasks("p", "0"), "");
});

const MODES =
  "init under umask 000 or 077 sets every mode itself; nobody may not hold the lock but may describe";
Deno.test({
  name: MODES,
  ignore: skipUnless(MODES, cannotConfine),
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "kcm-modes-" });
    const denoDir = join(root, "deno-dir");
    try {
      await Deno.chmod(root, 0o755);
      await Deno.mkdir(denoDir, { mode: 0o777 });
      await Deno.chmod(denoDir, 0o777);
      for (const umask of ["000", "077"]) {
        const confDir = join(root, "kcm");
        await Deno.remove(confDir, { recursive: true }).catch(() => {});
        const init = await runArgv([
          "sh",
          "-c",
          `umask ${umask} && exec "$@"`,
          "init",
          ...kcmArgv([
            "init",
            `--conf-dir=${confDir}`,
            "--num-dp-cores=2",
            "--num-cp-cores=1",
          ]),
        ], {
          KCM_SYS_FS: join(REPO_ROOT, "tests/fixtures/sysfs/xeon_d_1x8x2"),
          KCM_PROC_FS: root,
        });
        assert.equal(init.code, 0, init.stderr);
        const modes: string[] = [];
        const walk = (dir: string, rel: string) => {
          for (const entry of Deno.readDirSync(dir)) {
            const path = join(dir, entry.name);
            const mode = (Deno.lstatSync(path).mode! & 0o7777).toString(8);
            modes.push(`${rel}${entry.name} ${mode}`);
            if (entry.isDirectory) walk(path, `${rel}${entry.name}/`);
          }
        };
        walk(confDir, "");
        const wrong = modes.filter((line) =>
          !/^(lock 600|topology\.json 644)$/.test(line) &&
          !/^pools(\/[^/]+){0,2} 755$/.test(line) &&
          !/^pools\/[^/]+\/(exclusive|[^/]+\/tasks) 644$/.test(line)
        );
        assert.deepEqual(wrong, [], `umask ${umask}`);
        assert.equal(
          (Deno.statSync(confDir).mode! & 0o7777).toString(8),
          "755",
        );
      }
      const confDir = join(root, "kcm");

      // nobody cannot open the lock, so cannot flock(1) it.
      const hog = await runArgv([
        ...AS_NOBODY,
        "flock",
        "--nonblock",
        "--exclusive",
        join(confDir, "lock"),
        "true",
      ]);
      assert.notEqual(hog.code, 0);
      assert.match(hog.stderr, /Permission denied/);
      // describe works for nobody, and says why it read without the lock.
      const describe = await runArgv(
        [...AS_NOBODY, ...kcmArgv(["describe", `--conf-dir=${confDir}`])],
        { DENO_DIR: denoDir },
      );
      assert.equal(describe.code, 0, describe.stderr);
      assert.deepEqual(
        Object.keys(JSON.parse(describe.stdout).pools).sort(),
        ["controlplane", "dataplane", "infra"],
      );
      assert.equal(
        describe.stderr,
        `INFO:root:Cannot open lock file "${confDir}/lock": permission denied: reading without the lock\n`,
      );
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

const NARROW = "a writer narrows a lock file others may open to 0600";
Deno.test({
  name: NARROW,
  ignore: skipUnless(NARROW, cannotConfine),
  async fn() {
    await using conf = await makeConfigDir({
      p: { exclusive: true, lists: { "0": "" } },
    });
    const lock = join(conf.confDir, "lock");
    await Deno.chmod(conf.root, 0o755);
    await Deno.chmod(lock, 0o666);
    const canHold = () =>
      runArgv([...AS_NOBODY, "flock", "--nonblock", lock, "true"]);
    assert.equal((await canHold()).code, 0, "nobody can hold a 0666 lock");
    const result = await runKcm(["reconcile", `--conf-dir=${conf.confDir}`]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(((await Deno.stat(lock)).mode! & 0o7777).toString(8), "600");
    assert.notEqual((await canHold()).code, 0, "nobody cannot any more");
  },
});

Deno.test("timers beyond 2147483 s are usage errors naming the maximum; reconcile removes a killed init's staging folders", async () => {
  await using conf = await makeConfigDir({
    p: { exclusive: true, lists: { "0": "" } },
  });
  const args = ["reconcile", `--conf-dir=${conf.confDir}`];
  const interval = await runKcm([...args, "--interval=2147484"]);
  assert.equal(interval.code, 2);
  assert.match(
    interval.stderr,
    /^kcm: error: --interval must be at most 2147483 \(the longest a timer waits\), got "2147484"\n/,
  );
  const timeout = await runKcm(args, {
    env: { KCM_LOCK_TIMEOUT: "2147484" },
  });
  assert.equal(timeout.code, 2);
  assert.match(timeout.stderr, /^kcm: error: KCM_LOCK_TIMEOUT must be at most/);
  // Staging folders of inits whose process is gone (pid 999999 here).
  const inside = join(conf.confDir, ".kcm-init-999999-5");
  const beside = join(conf.root, ".kcm-init-kcm.999998-7");
  const live = join(conf.confDir, `.kcm-init-${Deno.pid}`);
  for (const dir of [inside, beside, live]) await Deno.mkdir(dir);
  const result = await runKcm(args);
  assert.equal(result.code, 0, result.stderr);
  const exists = (path: string) =>
    Deno.stat(path).then(() => true, () => false);
  assert.deepEqual(
    [await exists(inside), await exists(beside), await exists(live)],
    [false, false, true],
  );
});

Deno.test("a FIFO or a link where topology.json should be is one error line naming it: never opened, never followed", async () => {
  await using config = await makeConfigDir({
    p: { exclusive: true, lists: { "0": "" } },
  });
  const record = join(config.confDir, "topology.json");
  const secret = join(config.root, "secret");
  await Deno.writeTextFile(secret, "SECRET-CONTENT");
  for (const plant of ["fifo", "link"] as const) {
    await Deno.remove(record).catch(() => {});
    if (plant === "fifo") {
      const made = await new Deno.Command("mkfifo", { args: [record] })
        .output();
      assert.ok(made.success);
    } else {
      await Deno.symlink(secret, record);
    }
    // A FIFO opened for reading would block isolate until a writer came.
    const result = await runKcm([
      "isolate",
      `--conf-dir=${config.confDir}`,
      "--pool=p",
      "true",
    ]);
    assert.equal(result.code, 1, plant);
    assert.equal(result.stdout, "", plant);
    assert.match(
      result.stderr,
      new RegExp(
        `^kcm: error: Cannot read topology record "${record}": it is a ${
          plant === "fifo" ? "FIFO, not a regular file" : "symbolic link"
        }`,
      ),
      plant,
    );
    assert.ok(!result.stderr.includes("SECRET"), plant);
    assert.equal(
      await Deno.readTextFile(join(config.confDir, "pools/p/0/tasks")),
      "",
      plant,
    );
  }
});
