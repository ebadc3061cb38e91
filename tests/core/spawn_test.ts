/**
 * core/spawn.ts: the command kcm starts gets kcm's environment byte for
 * byte, a clean signal mask and its own session, and is reaped by kcm on
 * SIGCHLD, even when kcm's parent left SIGCHLD ignored.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { SessionChild } from "../../core/spawn.ts";

const SPAWN_TS = new URL("../../core/spawn.ts", import.meta.url).href;

/**
 * Runs a Deno program (`code`, with `SessionChild` in scope) under
 * `sh -c '<prelude>; exec <launcher> deno ...'`: the prelude and launcher
 * set up what a Deno process cannot (a variable whose value is not UTF-8,
 * an ignored signal).
 */
async function runUnderShell(
  prelude: string,
  code: string,
  launcher = "",
): Promise<{ code: number; stderr: string }> {
  const dir = await Deno.makeTempDir({ prefix: "kcm-spawn-" });
  try {
    const script = join(dir, "main.ts");
    await Deno.writeTextFile(
      script,
      `import { SessionChild } from ${JSON.stringify(SPAWN_TS)};\n${code}\n`,
    );
    const result = await new Deno.Command("sh", {
      args: [
        "-c",
        `${prelude}; exec ${launcher} "$0" run --quiet --allow-all "$1"`,
        Deno.execPath(),
        script,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    return {
      code: result.code,
      stderr: new TextDecoder().decode(result.stderr),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the command gets kcm's environment as bytes, the extra variables replacing kcm's", async () => {
  const out = await Deno.makeTempFile({ prefix: "kcm-spawn-env-" });
  try {
    const result = await runUnderShell(
      `RAW_VALUE=$(printf 'a\\377b'); KCM_EXTRA=old; export RAW_VALUE KCM_EXTRA`,
      `const child = new SessionChild("sh", ["-c", 'printf %s "$RAW_VALUE" | od -An -tx1 > "$0"; env | grep -c "^KCM_EXTRA=" >> "$0"; echo "$KCM_EXTRA" >> "$0"', ${
        JSON.stringify(out)
      }], { KCM_EXTRA: "new" });
      Deno.exit(await child.exitCode);`,
    );
    assert.equal(result.code, 0, result.stderr);
    const lines = (await Deno.readTextFile(out)).trim().split("\n")
      .map((line) => line.trim());
    assert.deepEqual(lines, ["61 ff 62", "1", "new"]);
  } finally {
    await Deno.remove(out);
  }
});

Deno.test("the command starts in a session of its own with the signal mask and ignored signals Deno.Command gives", async () => {
  const out = await Deno.makeTempFile({ prefix: "kcm-spawn-sig-" });
  try {
    const child = new SessionChild("sh", [
      "-c",
      'exec grep -E "^(SigBlk|SigIgn):" /proc/self/status > "$0"',
      out,
    ], {});
    // Field 6 of /proc/<pid>/stat is the session; read while it may still
    // run, or is a zombie that keeps its stat until reaped.
    // Sync on purpose: an await here would let kcm reap the child first.
    // deno-lint-ignore no-sync-fn-in-async-fn
    const stat = Deno.readTextFileSync(`/proc/${child.pid}/stat`);
    const session = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3]);
    assert.equal(await child.exitCode, 0);
    assert.equal(session, child.pid);
    // Deno ignores SIGPIPE; Rust's Command puts it back for the child.
    assert.match(
      await Deno.readTextFile("/proc/self/status"),
      /^SigIgn:\s*[0-9a-f]*1[0-9a-f]{3}$/m,
    );
    const viaDeno = new Deno.Command("grep", {
      args: ["-E", "^(SigBlk|SigIgn):", "/proc/self/status"],
    }).outputSync();
    const expected = new TextDecoder().decode(viaDeno.stdout).trim();
    assert.doesNotMatch(expected, /^SigIgn:.*1[0-9a-f]{3}$/m);
    assert.equal((await Deno.readTextFile(out)).trim(), expected);
  } finally {
    await Deno.remove(out);
  }
});

Deno.test("the exit code is the status, or 128+N for signal N (real-time ones too)", async () => {
  const codes = await Promise.all([
    new SessionChild("sh", ["-c", "exit 7"], {}).exitCode,
    new SessionChild("sh", ["-c", "kill -TERM $$"], {}).exitCode,
    new SessionChild("sh", ["-c", "kill -s 40 $$"], {}).exitCode,
  ]);
  assert.deepEqual(codes, [7, 128 + 15, 128 + 40]);
});

Deno.test("once reaped, the child is never signalled again (its pid may be reused)", async () => {
  const child = new SessionChild("true", [], {});
  assert.equal(await child.exitCode, 0);
  assert.throws(
    () => child.kill("SIGTERM"),
    (error: unknown) =>
      error instanceof Deno.errors.NotFound &&
      error.message === `pid ${child.pid} already exited`,
  );
});

Deno.test("a child is reaped by kcm even when its parent left SIGCHLD ignored", async () => {
  const result = await runUnderShell(
    "true",
    `const ignored = /^SigIgn:\\s*([0-9a-f]+)$/m.exec(Deno.readTextFileSync("/proc/self/status"))![1]!;
     if ((BigInt("0x" + ignored) & (1n << 16n)) === 0n) { console.error("SIGCHLD not ignored"); Deno.exit(3); }
     const codes = [];
     for (let i = 0; i < 5; i++) codes.push(await new SessionChild("sh", ["-c", "exit 9"], {}).exitCode);
     Deno.exit(codes.every((code) => code === 9) ? 0 : 4);`,
    // dash will not leave SIGCHLD ignored for the programs it runs; Python
    // does (ignored signals survive exec(2)).
    `python3 -c 'import os, signal, sys; signal.signal(signal.SIGCHLD, signal.SIG_IGN); os.execvp(sys.argv[1], sys.argv[1:])'`,
  );
  assert.equal(result.code, 0, result.stderr);
});

Deno.test("a script without a #! line runs through /bin/sh, named by path or found along PATH, as execvp(3) runs it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kcm-spawn-sh-" });
  try {
    const script = join(dir, "no-hash-bang");
    await Deno.writeTextFile(script, 'echo "$0 $*" >> "$OUT"\n');
    await Deno.chmod(script, 0o755);
    const out = join(dir, "out");
    const result = await runUnderShell(
      `PATH=${dir}:$PATH; OUT=${out}; export PATH OUT`,
      `const codes = [
         await new SessionChild(${
        JSON.stringify(script)
      }, ["a", "b"], {}).exitCode,
         await new SessionChild("no-hash-bang", ["c"], {}).exitCode,
       ];
       Deno.exit(codes.every((code) => code === 0) ? 0 : 5);`,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual((await Deno.readTextFile(out)).trim().split("\n"), [
      `${script} a b`,
      `${script} c`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
