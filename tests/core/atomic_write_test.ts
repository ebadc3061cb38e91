/**
 * Atomic file replacement: the content lands whole, no temporary file is
 * left, and a failed write leaves the old file as it was.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { writeFileAtomic } from "../../core/atomic_write.ts";
import { FileWriteError } from "../../core/errors.ts";
import { makeConfigDir } from "../_helpers/temp_config_dir.ts";

Deno.test("writeFileAtomic() leaves the old file whole when it fails", async () => {
  await using config = await makeConfigDir({});
  const path = join(config.root, "f");
  writeFileAtomic(path, "old");
  await Deno.chmod(config.root, 0o555);
  try {
    if (Deno.uid() === 0) return; // root writes anyway
    assert.throws(() => writeFileAtomic(path, "new"), FileWriteError);
    assert.equal(await Deno.readTextFile(path), "old");
  } finally {
    await Deno.chmod(config.root, 0o755);
  }
});
