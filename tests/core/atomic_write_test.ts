/**
 * Atomic file replacement: the content lands whole, no temporary file is
 * left, and a failed write leaves the old files as they were. Failures are
 * real: a full tmpfs (ENOSPC), since root writes through permissions.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  replaceFileAtomic,
  writeFileAtomic,
  writeFilesAtomic,
} from "../../core/atomic_write.ts";
import { matchOwnership, RawFsError } from "../../core/raw_fs.ts";
import {
  AS_NOBODY,
  cannotConfine,
  evalArgv,
  runArgv,
  skipUnless,
  tinyTmpfs,
} from "../_helpers/confine.ts";
import { listNames } from "../_helpers/temp_config_dir.ts";

async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "kcm-atomic-test-" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

Deno.test("writeFileAtomic() replaces the content and leaves no temporary file", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "f");
  writeFileAtomic(path, "old");
  writeFileAtomic(path, "new", { durable: false });
  assert.equal(await Deno.readTextFile(path), "new");
  writeFileAtomic(path, "x", { chmod: 0o640 });
  assert.equal((await Deno.stat(path)).mode! & 0o777, 0o640);
  writeFilesAtomic([{ path, data: "a" }, {
    path: join(tmp.path, "g"),
    data: "b",
  }]);
  assert.equal(await Deno.readTextFile(path), "a");
  await replaceFileAtomic(path, async (file) => {
    await file.write(new TextEncoder().encode("streamed"));
  }, { mode: 0o600, chmod: 0o755 });
  assert.equal(await Deno.readTextFile(path), "streamed");
  assert.equal((await Deno.stat(path)).mode! & 0o777, 0o755);
  assert.deepEqual(await listNames(tmp.path), ["f", "g"]);
});

Deno.test("writeFileAtomic() never follows a file planted at its temporary name", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "f");
  const victim = join(tmp.path, "victim");
  await Deno.writeTextFile(victim, "keep");
  // Fix the random part of the temporary name so a link can be planted
  // there: the write must fail rather than write through the link.
  const original = Math.random;
  Math.random = () => 0;
  try {
    await Deno.symlink(
      victim,
      join(tmp.path, `.kcm-tmp-f.${Deno.pid}.00000000`),
    );
    assert.throws(() => writeFileAtomic(path, "evil"), /Cannot write/);
  } finally {
    Math.random = original;
  }
  assert.equal(await Deno.readTextFile(victim), "keep");
});

const FULL =
  "writeFileAtomic() and writeFilesAtomic() on a full disk leave every old file whole";
Deno.test({
  name: FULL,
  ignore: skipUnless(FULL, cannotConfine),
  async fn() {
    await using tmp = await tempDir();
    const dir = join(tmp.path, "full");
    await Deno.mkdir(dir);
    const result = await runArgv([
      ...tinyTmpfs(dir, "64k"),
      ...evalArgv(`
        import { writeFileAtomic, writeFilesAtomic } from "@kcm/core/atomic_write.ts";
        const dir = ${JSON.stringify(dir)};
        Deno.writeTextFileSync(dir + "/f", "old-f");
        Deno.writeTextFileSync(dir + "/g", "old-g");
        // Fill the file system, then give back two pages: room for one
        // small file, not for a big one.
        const filler = Deno.openSync(dir + "/filler", { write: true, create: true });
        let size = 0;
        try {
          for (;;) size += filler.writeSync(new Uint8Array(4096));
        } catch { /* ENOSPC */ }
        filler.truncateSync(size - 8192);
        filler.close();
        const big = "x".repeat(100_000);
        const out = {};
        try {
          writeFileAtomic(dir + "/f", big);
          out.single = "written";
        } catch (error) {
          out.single = error.name + ": " + error.message;
        }
        try {
          writeFilesAtomic([
            { path: dir + "/g", data: "new-g" },
            { path: dir + "/f", data: big },
          ]);
          out.batch = "written";
        } catch (error) {
          out.batch = error.name + ": " + error.message;
        }
        out.f = Deno.readTextFileSync(dir + "/f");
        out.g = Deno.readTextFileSync(dir + "/g");
        out.names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
        console.log(JSON.stringify(out));
      `),
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), {
      single:
        `FileWriteError: Cannot write "${dir}/f": no space left on device`,
      // g's new content fit, f's did not: neither file was replaced.
      batch: `FileWriteError: Cannot write "${dir}/f": no space left on device`,
      f: "old-f",
      g: "old-g",
      names: ["f", "filler", "g"],
    });
  },
});

const KEEP =
  "writeFileAtomic() with keepOwnership gives the new file the old one's owner and mode";
Deno.test({
  name: KEEP,
  ignore: skipUnless(KEEP, cannotConfine),
  async fn() {
    await using tmp = await tempDir();
    const path = join(tmp.path, "f");
    await Deno.writeTextFile(path, "old");
    await Deno.chown(path, 65534, 65534);
    await Deno.chmod(path, 0o2640);
    writeFileAtomic(path, "new", { keepOwnership: true, durable: false });
    writeFilesAtomic([{ path, data: "newer" }], { keepOwnership: true });
    const info = await Deno.stat(path);
    assert.deepEqual([info.uid, info.gid, info.mode! & 0o7777], [
      65534,
      65534,
      0o2640,
    ]);
    assert.equal(await Deno.readTextFile(path), "newer");
    // Without it, the file is the writer's.
    writeFileAtomic(path, "x", { durable: false });
    assert.equal((await Deno.stat(path)).uid, 0);

    // Not root: kcm cannot give the file away, keeps the mode, and writes.
    await Deno.chmod(tmp.path, 0o777);
    await Deno.chown(path, 0, 0);
    await Deno.chmod(path, 0o666);
    const result = await runArgv([
      ...AS_NOBODY,
      ...evalArgv(`
        import { writeFileAtomic } from "@kcm/core/atomic_write.ts";
        writeFileAtomic(${
        JSON.stringify(path)
      }, "by nobody", { keepOwnership: true });
      `),
    ]);
    assert.equal(result.code, 0, result.stderr);
    const after = await Deno.stat(path);
    assert.deepEqual([after.uid, after.gid, after.mode! & 0o7777], [
      65534,
      65534,
      0o666,
    ]);
    assert.equal(await Deno.readTextFile(path), "by nobody");
  },
});

Deno.test("matchOwnership() never touches what replaced the file meanwhile", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "temp");
  const victim = join(tmp.path, "victim");
  await Deno.writeTextFile(victim, "keep");
  await Deno.chmod(victim, 0o600);
  using file = await Deno.open(path, { write: true, createNew: true });
  // A writer of the directory swaps the new file for a link to a victim.
  await Deno.remove(path);
  await Deno.symlink(victim, path);
  assert.throws(
    () => matchOwnership(path, file, { uid: 65534, gid: 65534, mode: 0o666 }),
    (e: unknown) => e instanceof RawFsError && e.code === "ELOOP",
  );
  // Or for another file: refused too.
  await Deno.remove(path);
  await Deno.writeTextFile(path, "other");
  assert.throws(
    () => matchOwnership(path, file, { uid: 65534, gid: 65534, mode: 0o666 }),
    /was replaced while kcm wrote it/,
  );
  const info = await Deno.stat(victim);
  assert.deepEqual([info.uid, info.mode! & 0o777], [0, 0o600]);
  assert.equal((await Deno.stat(path)).uid, 0);
});
