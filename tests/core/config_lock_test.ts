/**
 * The config lock: flock(2) semantics between kcm's own locks and against
 * another process, the timeout naming the holder, and readers on a
 * read-only mount.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type HeldLock, lockConfig } from "../../core/config_lock.ts";
import { LockTimeoutError } from "../../core/errors.ts";
import {
  cannotConfine,
  evalArgv,
  readOnlyMount,
  runArgv,
  skipUnless,
} from "../_helpers/confine.ts";
import { makeConfigDir } from "../_helpers/temp_config_dir.ts";

/**
 * What `promise` settles to (its value, or the error it rejects with)
 * within `ms`, else "still waiting": a lock wait that never times out must
 * fail the test, not hang it.
 */
async function within<T>(
  promise: Promise<T>,
  ms: number,
): Promise<T | unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve("still waiting"), ms);
  });
  try {
    return await Promise.race([
      promise.catch((error: unknown) => error),
      guard,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Asserts that `wait` timed out; `unblock` lets a stuck wait finish. */
async function assertTimesOut(
  wait: Promise<HeldLock>,
  unblock: () => Promise<void>,
  check: (error: LockTimeoutError) => boolean = () => true,
): Promise<void> {
  const outcome = await within(wait, 3000);
  if (!(outcome instanceof LockTimeoutError)) {
    await unblock();
    const held = await wait.catch(() => undefined);
    await held?.release();
  }
  assert.ok(
    outcome instanceof LockTimeoutError && check(outcome),
    `the wait ends with a LockTimeoutError, not ${outcome}`,
  );
}

Deno.test("lockConfig() excludes writers, shares among readers", async () => {
  await using config = await makeConfigDir({});
  const reader1 = await lockConfig(config.confDir, false, { timeoutMs: 100 });
  const reader2 = await lockConfig(config.confDir, false, { timeoutMs: 100 });
  const releaseReaders = async () => {
    await reader1.release();
    await reader2.release();
  };
  await assertTimesOut(
    lockConfig(config.confDir, true, { timeoutMs: 50 }),
    releaseReaders,
  );
  await releaseReaders();
  const writer = await lockConfig(config.confDir, true, { timeoutMs: 100 });
  await assertTimesOut(
    lockConfig(config.confDir, false, { timeoutMs: 50 }),
    () => writer.release(),
  );
  await writer.release();
  await writer.release(); // idempotent
  (await lockConfig(config.confDir, true, { timeoutMs: 100 })).release();
});

Deno.test("lockConfig() is a flock(2) another process respects, and names it", async () => {
  await using config = await makeConfigDir({});
  const lockFile = join(config.confDir, "lock");
  // util-linux flock(1) holds the lock from another process.
  const holder = new Deno.Command("flock", {
    args: ["--exclusive", "--close", lockFile, "sleep", "5"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const stopHolder = async () => {
    try {
      holder.kill("SIGKILL");
    } catch {
      // It has exited already.
    }
    await holder.status;
  };
  try {
    const deadline = Date.now() + 5000;
    while (
      !(await Deno.readTextFile("/proc/locks")).includes(
        `:${(await Deno.stat(lockFile)).ino} `,
      )
    ) {
      assert.ok(Date.now() < deadline, "flock(1) took the lock");
      await new Promise((r) => setTimeout(r, 20));
    }
    const started = performance.now();
    await assertTimesOut(
      lockConfig(config.confDir, false, { timeoutMs: 200 }),
      stopHolder,
      (e) =>
        e.message.includes(`waiting for lock "${lockFile}"`) &&
        /\(held by pid \d+\)/.test(e.message),
    );
    assert.ok(performance.now() - started >= 190, "waited for the timeout");
  } finally {
    await stopHolder();
  }
  (await lockConfig(config.confDir, true, { timeoutMs: 1000 })).release();
});

const READ_ONLY =
  "lockConfig() takes a reader's lock on a read-only mount, refuses a writer's";
Deno.test({
  name: READ_ONLY,
  ignore: skipUnless(READ_ONLY, cannotConfine),
  async fn() {
    await using config = await makeConfigDir({});
    const result = await runArgv([
      ...readOnlyMount(config.confDir),
      ...evalArgv(`
        import { lockConfig } from "@kcm/core/config_lock.ts";
        const dir = ${JSON.stringify(config.confDir)};
        const reader = await lockConfig(dir, false, { timeoutMs: 1000 });
        await reader.release();
        let writer = "taken";
        try {
          await lockConfig(dir, true, { timeoutMs: 1000 });
        } catch (error) {
          writer = error.message;
        }
        console.log(JSON.stringify({ reader: "taken", writer }));
      `),
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), {
      reader: "taken",
      writer: `Cannot open lock file "${
        join(config.confDir, "lock")
      }": read-only file system`,
    });
  },
});
