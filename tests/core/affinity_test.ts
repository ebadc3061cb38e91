/**
 * sched_setaffinity(2) errors reach kcm as data: an AffinityError whose
 * `errno` says what failed. Pinning itself is tested on real processes in
 * tests/commands/isolate_test.ts (the test runner's own threads must keep
 * their masks).
 */

import assert from "node:assert/strict";
import { pinProcess, setThreadAffinity } from "../../core/affinity.ts";
import { CpuSet } from "../../core/cpuset.ts";
import { AffinityError } from "../../core/errors.ts";

const ESRCH = 3, EINVAL = 22;

/** A thread id above the kernel's pid_max: no such thread can exist. */
const NO_SUCH_TID = Number(
  (await Deno.readTextFile("/proc/sys/kernel/pid_max")).trim(),
) + 1;

Deno.test("setThreadAffinity() of a thread that does not exist fails with errno ESRCH", () => {
  assert.throws(
    () => setThreadAffinity(NO_SUCH_TID, CpuSet.of([0])),
    (e: unknown) =>
      e instanceof AffinityError && e.errno === ESRCH &&
      e.message === `sched_setaffinity(${NO_SUCH_TID}, 0) failed: ESRCH`,
  );
});

Deno.test("setThreadAffinity() to CPUs that are not online fails with errno EINVAL, mask unchanged", () => {
  // Read synchronously: /proc/thread-self must be the calling thread.
  const before = Deno.readTextFileSync("/proc/thread-self/status");
  assert.throws(
    () => setThreadAffinity(0, CpuSet.of([8191])),
    (e: unknown) =>
      e instanceof AffinityError && e.errno === EINVAL &&
      /failed: EINVAL \(no CPU of the set is online/.test(e.message),
  );
  const after = Deno.readTextFileSync("/proc/thread-self/status");
  const mask = (s: string) => /^Cpus_allowed_list:\s*(\S+)$/m.exec(s)?.[1];
  assert.equal(mask(after), mask(before));
});

Deno.test("pinProcess() stops at the first thread that cannot be pinned, with its errno", () => {
  // No CPU of the set is online, so the first thread fails and nothing
  // changes: the test runner's threads keep their masks.
  assert.throws(
    () => pinProcess(CpuSet.of([8190, 8191])),
    (e: unknown) => e instanceof AffinityError && e.errno === EINVAL,
  );
});
