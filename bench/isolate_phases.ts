/**
 * Where `kcm isolate`'s time goes: replays commands/isolate.ts's `run` step
 * by step in a fresh process, importing kcm's own modules, and prints the
 * milliseconds of each phase as one JSON line. Run by isolate_startup.ts.
 *
 * Usage: deno run --allow-all bench/isolate_phases.ts <conf-dir> <pool>
 *
 * Nothing is imported statically, so `boot` is the runtime's own start-up
 * (performance.now() counts from the runtime's time origin) and each
 * import phase is the loading of exactly those modules.
 */

const boot = performance.now();
const [confDir = "/etc/kcm", poolName = "infra"] = Deno.args;
const phases: Record<string, number> = { boot };
let mark = performance.now();
function lap(name: string): void {
  const now = performance.now();
  phases[name] = now - mark;
  mark = now;
}

// What main.ts loads statically before it looks at argv.
await import("../core/cli.ts");
await import("../core/host.ts");
await import("../core/usage.ts");
await import("../core/errors.ts");
lap("importMain");
// What main.ts loads for `isolate` (commands/isolate.ts and its imports).
await import("../commands/isolate.ts");
lap("importIsolate");
const { pinProcess } = await import("../core/affinity.ts");
lap("importAffinity");

const { lockConfig } = await import("../core/config_lock.ts");
const { readPool } = await import("../core/config_read.ts");
const { OpenConfig } = await import("../core/config_open.ts");
const { writeManyTasks, removeTaskFromLists } = await import(
  "../core/config_write.ts"
);
const { readSelfIdentity, ownNamespaceProblem, findChildPid, readStartTime } =
  await import("../core/proc_identity.ts");
const { startChild } = await import("../core/process.ts");
const { SignalRelay } = await import("../core/signal_relay.ts");
const { HeldClaim, removeClaim } = await import("../core/claim_file.ts");
const { claimId } = await import("../core/owners.ts");
const { writeFileAtomic } = await import("../core/atomic_write.ts");
const { assignmentEnv } = await import("../core/assignment_env.ts");
const { readRecordNumaNodes } = await import("../core/record_file.ts");
const { chooseCpuList } = await import("../commands/isolate.ts");
mark = performance.now();

const relay = new SignalRelay();
lap("signalRelay");
const self = readSelfIdentity("/proc");
const pid = self.pid;
ownNamespaceProblem("/proc");
lap("readSelfIdentity");
const nodeOf = readRecordNumaNodes(confDir);
lap("readRecord");
const lock = await lockConfig(confDir, true, { timeoutMs: 30_000 });
lap("lock");
const config = OpenConfig.open(confDir);
const pool = readPool(config, poolName);
if (pool === undefined) throw new Error(`no pool ${poolName}`);
const chosen = chooseCpuList(pool, Math.random)!;
const list = chosen.name;
const allocation = {
  lists: [{ name: list, cpus: chosen.cpus, free: true }],
  cpus: chosen.cpus,
  numaNodes: [
    ...new Set(
      chosen.cpus.toArray().flatMap((cpu) => {
        const node = nodeOf?.get(cpu);
        return node === undefined ? [] : [node];
      }),
    ),
  ],
  warnings: [],
};
lap("readPool");
const claim = HeldClaim.create(config.root, claimId(self), self);
lap("claimFile");
writeManyTasks(config, [{
  pool: poolName,
  list,
  tasks: [...chosen.tasks, pid],
  added: new Map([[pid, { start: self.start, claim: claim.id }]]),
  read: chosen,
}]);
config[Symbol.dispose]();
lap("addTask");
await lock.release();
lap("unlock");
pinProcess(allocation.cpus);
lap("pinFirst");
const child = startChild({
  command: "true",
  args: [],
  env: assignmentEnv(allocation),
  cpus: allocation.cpus,
});
lap("spawn");
const exit = relay.supervise(child);
const childPid = findChildPid("/proc", pid, child.pid);
if (childPid !== undefined) {
  const start = readStartTime("/proc", childPid);
  if (start !== null) claim.addProcess({ pid: childPid, start });
}
lap("recordChild");
await exit;
lap("wait");
const lock2 = await lockConfig(confDir, true, { timeoutMs: 30_000 });
const config2 = OpenConfig.open(confDir);
removeTaskFromLists(config2, poolName, [list], pid);
removeClaim(config2.root, claim.id);
config2[Symbol.dispose]();
await lock2.release();
claim.close();
lap("release");
relay[Symbol.dispose]();
lap("dispose");

// Not on kcm's path: figures that split the phases above.
pinProcess(chosen.cpus);
lap("pinAgain");
Deno.dlopen("libc.so.6", {
  getpid: { parameters: [], result: "i32" },
}).close();
lap("dlopenOnly");
// What claim and release cost with fsyncs (kcm's writes before it dropped
// them): two durable rewrites of the tasks file.
const tasks = `${confDir}/pools/${poolName}/${list}/tasks`;
writeFileAtomic(tasks, `${pid}`, { durable: true });
writeFileAtomic(tasks, "", { durable: true });
lap("addRemoveDurable");

// deno-lint-ignore no-console
console.log(JSON.stringify(phases));
