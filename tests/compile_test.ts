/**
 * `deno task compile` builds a kcm binary that behaves like the source and
 * installs itself. `deno compile` downloads Deno's runtime (`denort`) on
 * first use; on a machine that cannot reach it the test is ignored and
 * says why.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT, runKcm } from "./_helpers/run_cli.ts";
import { runFile } from "./_helpers/run_cli.ts";
import { skipUnless } from "./_helpers/confine.ts";

const decoder = new TextDecoder();

/** The `compile` task's argv (after `deno`), with `--output` moved to `output`. */
async function compileArgs(output: string): Promise<string[]> {
  const config = JSON.parse(
    await Deno.readTextFile(join(REPO_ROOT, "deno.json")),
  ) as { tasks: Record<string, string> };
  const words = config.tasks.compile!.split(/\s+/);
  assert.equal(words[0], "deno");
  const at = words.indexOf("--output");
  assert.ok(at > 0, "the compile task names its --output");
  words[at + 1] = output;
  return words.slice(1);
}

interface Built {
  readonly dir: string;
  readonly binary: string;
  readonly ok: boolean;
  readonly log: string;
}

async function build(): Promise<Built> {
  const dir = await Deno.makeTempDir({ prefix: "kcm-compile-test-" });
  const binary = join(dir, "kcm");
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: await compileArgs(binary),
      cwd: REPO_ROOT,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).output();
    return {
      dir,
      binary,
      ok: out.success,
      log: decoder.decode(out.stdout) + decoder.decode(out.stderr),
    };
  } catch (error) {
    return { dir, binary, ok: false, log: String(error) };
  }
}

const built = await build();
const offline = !built.ok &&
  /error sending request|dns error|failed to lookup|Connect|timed out|AbortError/i
    .test(built.log);
const COMPILE =
  "deno task compile builds a kcm that matches the source and installs itself";
const offlineReason = offline
  ? `deno compile cannot fetch the Deno runtime here: ${
    built.log.split("\n").filter((l) => /dl\.deno\.land|dns|request/.test(l))
      .slice(0, 2).join(" / ")
  }`
  : undefined;
if (offline) await Deno.remove(built.dir, { recursive: true });

Deno.test({
  name: COMPILE,
  ignore: skipUnless(COMPILE, offlineReason),
  async fn() {
    try {
      assert.ok(built.ok, built.log);
      for (const args of [["--help"], ["--version"]]) {
        const source = await runKcm(args);
        const binary = await runFile(built.binary, args);
        assert.equal(binary.code, 0, binary.stderr);
        assert.equal(binary.stdout, source.stdout);
      }
      const target = join(built.dir, "opt", "bin");
      const install = await runFile(built.binary, [
        "install",
        `--install-dir=${target}`,
      ]);
      assert.equal(install.code, 0, install.stderr);
      assert.equal(install.stderr, `INFO:root:Installed kcm to ${target}\n`);
      const copy = join(target, "kcm");
      assert.deepEqual(
        await Deno.readFile(copy),
        await Deno.readFile(built.binary),
      );
      assert.equal((await Deno.stat(copy)).mode! & 0o7777, 0o755);
      const version = await runFile(copy, ["--version"]);
      assert.equal(version.stdout, (await runKcm(["--version"])).stdout);
      // The copy installs over itself while running.
      const again = await runFile(copy, ["install", `--install-dir=${target}`]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal((await runFile(copy, ["--version"])).code, 0);
    } finally {
      await Deno.remove(built.dir, { recursive: true });
    }
  },
});
