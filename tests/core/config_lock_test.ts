/**
 * The config lock: flock(2) semantics between kcm's own locks and against
 * another process, the timeout naming the holder, and readers on a
 * read-only mount.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { lockConfig } from "../../core/config_lock.ts";
import { LockTimeoutError } from "../../core/errors.ts";
import {
  cannotConfine,
  evalArgv,
  readOnlyMount,
  runArgv,
  skipUnless,
} from "../_helpers/confine.ts";
import { makeConfigDir } from "../_helpers/temp_config_dir.ts";

Deno.test("lockConfig() excludes writers, shares among readers", async () => {
  await using config = await makeConfigDir({});
  const reader1 = await lockConfig(config.confDir, false, { timeoutMs: 100 });
  const reader2 = await lockConfig(config.confDir, false, { timeoutMs: 100 });
  await assert.rejects(
    lockConfig(config.confDir, true, { timeoutMs: 50 }),
    LockTimeoutError,
  );
  await reader1.release();
  await reader2.release();
  const writer = await lockConfig(config.confDir, true, { timeoutMs: 100 });
  await assert.rejects(
    lockConfig(config.confDir, false, { timeoutMs: 50 }),
    LockTimeoutError,
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
    await assert.rejects(
      lockConfig(config.confDir, false, { timeoutMs: 200 }),
      (e: unknown) =>
        e instanceof LockTimeoutError &&
        e.message.includes(`waiting for lock "${lockFile}"`) &&
        /\(held by pid \d+\)/.test(e.message),
    );
    assert.ok(performance.now() - started >= 190, "waited for the timeout");
  } finally {
    holder.kill("SIGKILL");
    await holder.status;
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
