// deno-lint-ignore-file no-console
/**
 * Attacks on a node's config directory, replayable and bounded in time:
 * kcm killed or signalled at random moments while other isolates claim and
 * a reconcile loop runs, Ctrl-C sent to kcm's whole process group, a pid
 * reused in a fresh pid namespace, hostile entries in the directory, and
 * an unprivileged user trying to hold the lock.
 *
 * Each attack counts its tries, its failures (a broken promise: a cpu list
 * used by two workloads at once, a signal delivered twice, an exit code
 * that is not the workload's, a list not reclaimed) and data lost (a
 * config directory that no longer parses, a list still taken once every
 * workload is gone, a secret printed, a file outside the directory
 * changed).
 *
 * tests/system/attack_test.ts runs every attack at a small size. By hand:
 *
 * ```sh
 * deno run -A tests/system/attack.ts            # the test's size
 * deno run -A tests/system/attack.ts --long     # thousands of runs, ~10 min
 * deno run -A tests/system/attack.ts --seed=42 --tries=500 --minutes=5
 * ```
 *
 * It prints one table: attack, tries, failures, data lost.
 */

import { join } from "node:path";
import { MAIN_TS, REPO_ROOT } from "../_helpers/run_cli.ts";
import { mulberry32, waitForClaimsReleased } from "../_helpers/chaos.ts";
import { makeConfigDir, type TempConfig } from "../_helpers/temp_config_dir.ts";
import { FORWARDED_SIGNALS } from "../../core/signal_relay.ts";

/** One line of the table. */
export interface AttackRow {
  readonly attack: string;
  readonly tries: number;
  readonly failures: number;
  readonly dataLost: number;
  /** What went wrong, one line each (the first few). */
  readonly notes: readonly string[];
}

/** How hard to attack. */
export interface AttackOptions {
  readonly seed: number;
  /** Tries of the random attacks (the pid-namespace one does a tenth). */
  readonly tries: number;
  /**
   * All attacks together stop starting tries after about this long: each
   * gets its share (a try under way is finished).
   */
  readonly budgetMs: number;
}

class Tally {
  tries = 0;
  failures = 0;
  dataLost = 0;
  readonly notes: string[] = [];
  constructor(readonly attack: string) {}
  fail(note: string): void {
    this.failures++;
    if (this.notes.length < 5) this.notes.push(note);
  }
  lose(note: string): void {
    this.dataLost++;
    if (this.notes.length < 5) this.notes.push(note);
  }
  row(): AttackRow {
    return { ...this, notes: [...this.notes] };
  }
}

const decoder = new TextDecoder();

/** A kcm process started from source; `detached`: its own process group. */
function kcm(
  args: readonly string[],
  env: Record<string, string> = {},
): Deno.ChildProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--allow-all", MAIN_TS, ...args],
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...env },
    cwd: REPO_ROOT,
    detached: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Deno rejects `status` for a real-time signal, maybe before the caller
  // awaits it: handled here, so it is not an unhandled rejection.
  child.status.catch(() => {});
  return child;
}

interface Outcome {
  readonly code: number;
  readonly signal: Deno.Signal | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Waits for kcm to end. An orphaned workload may keep the pipes open
 * after kcm died of a signal: then the output is not waited for.
 */
async function outcome(child: Deno.ChildProcess): Promise<Outcome> {
  let status: Deno.CommandStatus;
  try {
    status = await child.status;
  } catch (error) {
    // Deno names signals 1-31 only: kcm died of a real-time signal.
    if (!(error instanceof TypeError)) throw error;
    status = { success: false, code: 1, signal: "SIGKILL" };
  }
  if (status.signal !== null) {
    await Promise.all([child.stdout.cancel(), child.stderr.cancel()]);
    return { code: status.code, signal: status.signal, stdout: "", stderr: "" };
  }
  const [out, err] = await Promise.all([
    new Response(child.stdout).arrayBuffer(),
    new Response(child.stderr).arrayBuffer(),
  ]);
  return {
    code: status.code,
    signal: null,
    stdout: decoder.decode(out),
    stderr: decoder.decode(err),
  };
}

async function runTo(args: readonly string[], env = {}): Promise<Outcome> {
  return await outcome(kcm(args, env));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The workload: takes the list's mark (flock(2) on a file named after
 * `KCM_CPUS_ASSIGNED`, held by the `sleep` it becomes, so it lasts exactly
 * as long as the workload runs, whatever kills it), or notes a double use
 * when a running workload holds it.
 */
const WORKLOAD = [
  "sh",
  "--",
  "-c",
  'exec 8>"$0/$KCM_CPUS_ASSIGNED"; flock -n 8 || echo "$KCM_CPUS_ASSIGNED" >> "$0/double"; exec sleep "$1"',
];

/** Lists still taken once every workload is gone and reconcile ran. */
async function leftTaken(conf: TempConfig): Promise<string[]> {
  const done = await runTo(["reconcile", `--conf-dir=${conf.confDir}`]);
  if (done.code !== 0) return [`reconcile: ${done.stderr.trim()}`];
  const described = await runTo(["describe", `--conf-dir=${conf.confDir}`]);
  if (described.code !== 0) return [`describe: ${described.stderr.trim()}`];
  const pools = JSON.parse(described.stdout).pools as Record<
    string,
    { cpuLists: Record<string, { tasks: number[] }> }
  >;
  const taken: string[] = [];
  for (const [pool, { cpuLists }] of Object.entries(pools)) {
    for (const [name, list] of Object.entries(cpuLists)) {
      if (list.tasks.length > 0) taken.push(`${pool}:${name} ${list.tasks}`);
    }
  }
  return taken;
}

function doubleUses(marks: string): string[] {
  try {
    return Deno.readTextFileSync(join(marks, "double")).trim().split("\n");
  } catch {
    return [];
  }
}

/**
 * Signals a running kcm may get: the forwarded ones but SIGTSTP (which
 * would stop the workload until a SIGCONT, a pause and not an attack), and
 * real-time ones, which kcm does not forward.
 */
const SIGNALS: readonly (Deno.Signal | number)[] = [
  ...FORWARDED_SIGNALS.filter((signal) => signal !== "SIGTSTP"),
  34,
  40,
  64,
];

/** Deno.kill takes names only: numbers go through kill(1). */
async function sendSignal(pid: number, signal: Deno.Signal | number) {
  if (typeof signal === "string") {
    try {
      Deno.kill(pid, signal);
    } catch {
      // Already gone.
    }
    return;
  }
  await new Deno.Command("kill", {
    args: [`-${signal}`, String(pid)],
    stderr: "null",
  }).output();
}

/**
 * Isolates on an exclusive pool of two lists, three at a time, each hit
 * at a random moment by `hit` (kill -9, or a random signal), while a
 * reconcile loop runs: no list may ever hold two workloads.
 */
async function hitIsolates(
  name: string,
  options: AttackOptions,
  random: () => number,
  signalFor: () => Deno.Signal | number,
): Promise<AttackRow> {
  const tally = new Tally(name);
  await using conf = await makeConfigDir({
    dp: { exclusive: true, lists: { "0": "", "1": "" } },
  });
  const marks = join(conf.root, "marks");
  await Deno.mkdir(marks);
  const deadline = performance.now() + options.budgetMs;
  let stop = false;
  const reconciler = (async () => {
    while (!stop) {
      const result = await runTo(["reconcile", `--conf-dir=${conf.confDir}`]);
      if (result.code !== 0) tally.fail(`reconcile: ${result.stderr.trim()}`);
    }
  })();
  let next = 0;
  await Promise.all(Array.from({ length: 3 }, async () => {
    while (next < options.tries && performance.now() < deadline) {
      next++;
      tally.tries++;
      const signal = signalFor();
      const child = kcm([
        "isolate",
        `--conf-dir=${conf.confDir}`,
        "--pool=dp",
        ...WORKLOAD,
        marks,
        (0.1 + random() * 0.4).toFixed(2),
      ]);
      // Start-up takes 100-300 ms here: hit before, during and after.
      await sleep(random() * 700);
      await sendSignal(child.pid, signal);
      const result = await outcome(child);
      const number = typeof signal === "number" ? signal : 0;
      const fine = result.signal !== null ||
        result.code === 0 ||
        (result.code === 1 && /No free cpu lists/.test(result.stderr)) ||
        result.code > 128 && result.code <= 128 + 64 &&
          (number === 0 || result.code === 128 + number);
      if (!fine) {
        tally.fail(
          `${signal}: exit ${result.code} ${
            result.stderr.trim().split("\n")[0]
          }`,
        );
      }
    }
  }));
  stop = true;
  await reconciler;
  try {
    await waitForClaimsReleased(conf.confDir);
  } catch {
    tally.fail("workloads still running 15 s after the last try");
  }
  for (const list of doubleUses(marks)) tally.fail(`list ${list} used twice`);
  for (const taken of await leftTaken(conf)) tally.lose(`left taken: ${taken}`);
  return tally.row();
}

/**
 * Counts the SIGINTs it gets for half a second after `<argv[1]>.ready`
 * appears, then writes the count to `<argv[1]>`. Python runs its handler
 * once per delivery (a shell's trap waits for the foreground command, and
 * two pending SIGINTs merge into one).
 */
const COUNT_SIGINTS = [
  "import signal, sys, time",
  "n = 0",
  "def count(*_):",
  "    global n",
  "    n += 1",
  "signal.signal(signal.SIGINT, count)",
  "open(sys.argv[1] + '.ready', 'w').close()",
  "end = time.monotonic() + 0.5",
  "while time.monotonic() < end:",
  "    time.sleep(0.01)",
  "open(sys.argv[1], 'w').write(str(n))",
].join("\n");

/**
 * Ctrl-C in a terminal: SIGINT to kcm's whole process group. The workload
 * counts the SIGINTs it gets; it must get exactly one.
 */
async function ctrlC(options: AttackOptions): Promise<AttackRow> {
  const tally = new Tally("SIGINT to the process group (Ctrl-C)");
  await using conf = await makeConfigDir({
    p: { exclusive: false, lists: { "0": "" } },
  });
  const deadline = performance.now() + options.budgetMs;
  const tries = Math.max(2, Math.ceil(options.tries / 4));
  while (tally.tries < tries && performance.now() < deadline) {
    tally.tries++;
    const file = join(conf.root, `count.${tally.tries}`);
    const child = kcm([
      "isolate",
      `--conf-dir=${conf.confDir}`,
      "--pool=p",
      "python3",
      "--",
      "-c",
      COUNT_SIGINTS,
      file,
    ]);
    const started = performance.now();
    while (!existsSync(`${file}.ready`) && performance.now() - started < 20e3) {
      await sleep(10);
    }
    try {
      Deno.kill(-child.pid, "SIGINT");
    } catch {
      // Gone.
    }
    const result = await outcome(child);
    let count = "none";
    try {
      count = (await Deno.readTextFile(file)).trim();
    } catch {
      // The workload did not finish.
    }
    if (result.code !== 0 || count !== "1") {
      tally.fail(`exit ${result.code}, the workload got ${count} SIGINTs`);
    }
  }
  for (const taken of await leftTaken(conf)) tally.lose(`left taken: ${taken}`);
  return tally.row();
}

function existsSync(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * In a fresh pid namespace (its own procfs): isolate records its pid, is
 * killed with its workload, and an unrelated process is made to reuse
 * that pid (through `/proc/sys/kernel/ns_last_pid`). `reconcile` must
 * give the list back: the live pid's start time is not the recorded one.
 */
const REUSE_SCRIPT = String.raw`
C=$1; DENO=$2; MAIN=$3
export KCM_SHARED_PID_NAMESPACE=1 NO_COLOR=1 DENO_NO_UPDATE_CHECK=1
"$DENO" run --quiet --allow-all "$MAIN" isolate --conf-dir="$C" --pool=dp sleep -- 60 &
k=$!
i=0
until [ "$(cat "$C"/.kcm-claim-"$k"-* 2>/dev/null | wc -l)" -ge 2 ]; do
  i=$((i+1)); [ $i -lt 600 ] || { echo "no claim by $k" >&2; exit 3; }
  sleep 0.05
done
child=$(cat /proc/$k/task/*/children)
kill -9 "$k" $child
wait "$k"
echo $((k - 1)) > /proc/sys/kernel/ns_last_pid
sleep 60 &
r=$!
if [ "$r" != "$k" ]; then echo "pid $k not reused (got $r)" >&2; exit 4; fi
"$DENO" run --quiet --allow-all "$MAIN" reconcile --conf-dir="$C"
rc=$?
kill "$r"
echo "reused $k"
exit $rc
`;

async function pidReuse(options: AttackOptions): Promise<AttackRow> {
  const tally = new Tally("pid of a dead holder reused");
  const deadline = performance.now() + options.budgetMs;
  const tries = Math.max(1, Math.ceil(options.tries / 10));
  while (tally.tries < tries && performance.now() < deadline) {
    tally.tries++;
    await using conf = await makeConfigDir({
      dp: { exclusive: true, lists: { "0": "" } },
    });
    const out = await new Deno.Command("unshare", {
      args: [
        "--pid",
        "--fork",
        "--mount-proc",
        "sh",
        "-c",
        REUSE_SCRIPT,
        "reuse",
        conf.confDir,
        Deno.execPath(),
        MAIN_TS,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = decoder.decode(out.stdout);
    const stderr = decoder.decode(out.stderr);
    const pid = /^reused ([0-9]+)$/m.exec(stdout)?.[1];
    if (out.code !== 0 || pid === undefined) {
      tally.fail(`exit ${out.code}: ${stderr.trim().split("\n").at(-1)}`);
      continue;
    }
    const report = JSON.parse(stdout.slice(0, stdout.lastIndexOf("reused")));
    const reclaimed = JSON.stringify(report.reclaimedCpuLists);
    if (reclaimed !== `[{"cpus":"0","pid":${pid},"pool":"dp"}]`) {
      tally.fail(`pid ${pid} reused, reconcile reclaimed ${reclaimed}`);
    }
    if ((await conf.tasks("dp", "0")) !== "") {
      tally.fail(`tasks still ${await conf.tasks("dp", "0")}`);
    }
  }
  return tally.row();
}

async function namesIn(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

/**
 * Entries that are not what kcm writes: links out of the directory, a
 * FIFO and an oversized file where `tasks` should be, pool names that
 * climb out. kcm must not hang, print the secret, touch the outside file,
 * nor stop reconciling the healthy list.
 */
async function hostileEntries(options: AttackOptions): Promise<AttackRow> {
  const tally = new Tally("links, FIFOs, huge files, bad pool names");
  const deadline = performance.now() + options.budgetMs;
  const rounds = Math.max(1, Math.ceil(options.tries / 50));
  for (let round = 0; round < rounds; round++) {
    if (round > 0 && performance.now() > deadline) break;
    await using conf = await makeConfigDir({
      dp: { exclusive: true, lists: { "0": "", "1": "99999999" } },
      linked: { exclusive: true, lists: { "2": "" } },
      odd: { exclusive: true, lists: { "3": "", "4": "", "5": "" } },
    });
    const outside = join(conf.root, "outside");
    await Deno.mkdir(outside);
    const secret = join(outside, "secret");
    await Deno.writeTextFile(secret, "TOP-SECRET-4711");
    await Deno.chmod(secret, 0o600);
    const lists = join(conf.confDir, "pools");
    // tasks -> a root-only file; a list dir -> outside; a FIFO; 2 MiB.
    await Deno.remove(join(lists, "dp/0/tasks"));
    await Deno.symlink(secret, join(lists, "dp/0/tasks"));
    await Deno.remove(join(lists, "linked/2"), { recursive: true });
    await Deno.symlink(outside, join(lists, "linked/2"));
    await Deno.remove(join(lists, "odd/3/tasks"));
    await new Deno.Command("mkfifo", { args: [join(lists, "odd/3/tasks")] })
      .output();
    await Deno.writeTextFile(join(lists, "odd/4/tasks"), "1,".repeat(1 << 20));
    const before = await namesIn(outside);
    const runs: [string, string[], number[]][] = [
      ["reconcile", ["reconcile"], [0]],
      ["describe", ["describe"], [0, 1]],
      ["node-report", ["node-report"], [0, 1]],
      ["isolate linked", ["isolate", "--pool=linked", "true"], [1]],
      ["isolate odd", ["isolate", "--pool=odd", "true"], [0, 1]],
      ["isolate dp", ["isolate", "--pool=dp", "true"], [0, 1]],
    ];
    for (const name of ["../../outside", "/", "", "a/b", "..", "."]) {
      runs.push([`--pool=${name}`, ["isolate", `--pool=${name}`, "true"], [2]]);
    }
    for (const [what, args, codes] of runs) {
      tally.tries++;
      const child = kcm([
        args[0]!,
        `--conf-dir=${conf.confDir}`,
        ...args.slice(1),
      ]);
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      const result = await outcome(child);
      clearTimeout(timer);
      if (result.signal !== null) tally.fail(`${what}: hung, killed`);
      else if (!codes.includes(result.code)) {
        tally.fail(`${what}: exit ${result.code} ${result.stderr.trim()}`);
      }
      if ((result.stdout + result.stderr).includes("TOP-SECRET")) {
        tally.lose(`${what} printed the secret`);
      }
      if (/Uncaught|^\s+at /m.test(result.stderr)) {
        tally.fail(`${what}: a stack trace`);
      }
    }
    const after = await namesIn(outside);
    if (JSON.stringify(after) !== JSON.stringify(before)) {
      tally.lose(`files appeared outside: ${after}`);
    }
    if ((await Deno.readTextFile(secret)) !== "TOP-SECRET-4711") {
      tally.lose("the outside file changed");
    }
    // The pid 99999999 of dp/1 is dead: reconcile freed it despite the rest.
    if ((await conf.tasks("dp", "1")) !== "") {
      tally.fail("reconcile skipped the healthy list dp/1");
    }
  }
  return tally.row();
}

/**
 * A user without write access to the directory (nobody, via setpriv)
 * tries to hold the lock; an isolate must still claim at once.
 */
async function lockHog(options: AttackOptions): Promise<AttackRow> {
  const tally = new Tally("lock held by a user without rights");
  const rounds = Math.max(1, Math.ceil(options.tries / 50));
  const sysfs = join(REPO_ROOT, "tests/fixtures/sysfs/xeon_d_1x8x2");
  const deadline = performance.now() + options.budgetMs;
  for (let round = 0; round < rounds; round++) {
    if (round > 0 && performance.now() > deadline) break;
    tally.tries++;
    const root = await Deno.makeTempDir({ prefix: "kcm-attack-" });
    try {
      await Deno.chmod(root, 0o755);
      const confDir = join(root, "kcm");
      const init = await runTo([
        "init",
        `--conf-dir=${confDir}`,
        "--num-dp-cores=2",
        "--num-cp-cores=1",
      ], { KCM_SYS_FS: sysfs, KCM_PROC_FS: root });
      if (init.code !== 0) {
        tally.fail(`init: ${init.stderr.trim()}`);
        continue;
      }
      const hog = new Deno.Command("setpriv", {
        args: [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          "flock",
          "--exclusive",
          join(confDir, "lock"),
          "sleep",
          "30",
        ],
        stdout: "null",
        stderr: "null",
      }).spawn();
      await sleep(300);
      const isolate = await runTo([
        "isolate",
        `--conf-dir=${confDir}`,
        "--pool=dataplane",
        "--no-affinity",
        "true",
      ], { KCM_LOCK_TIMEOUT: "3" });
      try {
        hog.kill("SIGKILL");
      } catch {
        // It could not open the lock and has ended.
      }
      await hog.status;
      if (isolate.code !== 0) {
        tally.fail(`isolate with the lock hogged: ${isolate.stderr.trim()}`);
      }
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  }
  return tally.row();
}

/** Each attack's share of the time budget. */
const SHARES = {
  kill: 0.3,
  signal: 0.3,
  ctrlC: 0.1,
  reuse: 0.15,
  entries: 0.1,
  lock: 0.05,
} as const;

/**
 * Runs every attack, one after the other (each on its own directory),
 * handing each row to `onRow` as soon as it is done.
 */
export async function runAttacks(
  options: AttackOptions,
  onRow: (row: AttackRow) => void = () => {},
): Promise<AttackRow[]> {
  const random = mulberry32(options.seed);
  const pick = <T>(items: readonly T[]) =>
    items[Math.floor(random() * items.length)]!;
  const share = (part: number) => ({
    ...options,
    budgetMs: options.budgetMs * part,
  });
  const attacks: (() => Promise<AttackRow>)[] = [
    () =>
      hitIsolates(
        "kill -9 of isolate, reconcile loop running",
        share(SHARES.kill),
        random,
        () => "SIGKILL",
      ),
    () =>
      hitIsolates(
        "random signal to isolate, reconcile loop running",
        share(SHARES.signal),
        random,
        () => pick(SIGNALS),
      ),
    () => ctrlC(share(SHARES.ctrlC)),
    () => pidReuse(share(SHARES.reuse)),
    () => hostileEntries(share(SHARES.entries)),
    () => lockHog(share(SHARES.lock)),
  ];
  const rows: AttackRow[] = [];
  for (const attack of attacks) {
    const row = await attack();
    onRow(row);
    rows.push(row);
  }
  return rows;
}

/** The table, as Markdown. */
export function formatTable(rows: readonly AttackRow[]): string {
  const lines = [
    "| attack | tries | failures | data lost |",
    "| --- | ---: | ---: | ---: |",
    ...rows.map((r) =>
      `| ${r.attack} | ${r.tries} | ${r.failures} | ${r.dataLost} |`
    ),
  ];
  return lines.join("\n");
}

if (import.meta.main) {
  const args = Deno.args;
  const value = (name: string) =>
    args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
  const long = args.includes("--long");
  const seed = Number(value("seed") ?? Date.now() % 2 ** 31);
  const tries = Number(value("tries") ?? (long ? 2000 : 40));
  const minutes = Number(value("minutes") ?? (long ? 10 : 2));
  const budgetMs = minutes * 60_000;
  console.log(`seed ${seed}, up to ${tries} tries, ${minutes} min`);
  const started = performance.now();
  const rows = await runAttacks({ seed, tries, budgetMs }, (row) =>
    console.log(
      `done: ${row.attack}: ${row.tries} tries, ${row.failures} failures, ${row.dataLost} lost`,
    ));
  console.log(formatTable(rows));
  for (const row of rows) {
    for (const note of row.notes) console.log(`${row.attack}: ${note}`);
  }
  console.log(`${((performance.now() - started) / 1000).toFixed(0)} s`);
  Deno.exit(rows.some((r) => r.failures + r.dataLost > 0) ? 1 : 0);
}
