/**
 * Golden files: compared byte for byte, rewritten only on purpose with
 * `KCM_UPDATE_GOLDEN=1 deno task test`, never by an ordinary run.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "./run_cli.ts";

/** Asserts `actual` equals `tests/fixtures/golden/<name>`. */
export async function assertGolden(
  name: string,
  actual: string,
): Promise<void> {
  const path = join(REPO_ROOT, "tests/fixtures/golden", name);
  if (Deno.env.get("KCM_UPDATE_GOLDEN") === "1") {
    await Deno.writeTextFile(path, actual);
    return;
  }
  assert.equal(actual, await Deno.readTextFile(path), `golden file ${name}`);
}
