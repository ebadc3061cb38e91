/**
 * kcm saves Deno's V8 code cache of the modules it ran on its first run,
 * so later runs do not compile them again (main.ts loads one empty module
 * at the end for that).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { MAIN_TS, REPO_ROOT, runKcm } from "../_helpers/run_cli.ts";
import { makeConfigDir } from "../_helpers/temp_config_dir.ts";

/** The bytes of every file of Deno's code cache database in `denoDir`. */
async function codeCacheText(denoDir: string): Promise<string> {
  let text = "";
  for await (const entry of Deno.readDir(denoDir)) {
    if (entry.name.startsWith("v8_code_cache")) {
      text += new TextDecoder("latin1").decode(
        await Deno.readFile(join(denoDir, entry.name)),
      );
    }
  }
  return text;
}

Deno.test("one isolate in a fresh Deno cache saves the code cache of the modules it ran", async () => {
  await using config = await makeConfigDir({
    infra: { exclusive: false, lists: { "0": "" } },
  });
  const denoDir = await Deno.makeTempDir({ prefix: "kcm-deno-dir-" });
  try {
    const result = await runKcm(
      [
        "isolate",
        `--conf-dir=${config.confDir}`,
        "--pool=infra",
        "--no-affinity",
        "true",
      ],
      { env: { DENO_DIR: denoDir } },
    );
    assert.equal(result.code, 0, result.stderr);
    const saved = await codeCacheText(denoDir);
    // The modules isolate alone loads, and the entry point itself.
    for (const path of ["core/spawn.ts", "core/signal_relay.ts", "main.ts"]) {
      assert.ok(
        saved.includes(`file://${REPO_ROOT}/${path}`),
        `no code cache saved for ${path} (${MAIN_TS} run once)`,
      );
    }
  } finally {
    await Deno.remove(denoDir, { recursive: true });
  }
});
