/**
 * startChild(): a child that may run outside the CPUs it was promised is
 * killed and reported, read back from /proc right after the spawn; the
 * command gets kcm's environment byte for byte, a clean signal mask and a
 * session of its own, runs as execvp(3) would run it, and its status
 * becomes the shell's exit code.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { parseCpuList } from "../../core/cpuset.ts";
import { AffinityError } from "../../core/errors.ts";
import { startChild, waitForExitCode } from "../../core/process.ts";
import { skipUnless } from "../_helpers/confine.ts";
import { waitFor } from "../_helpers/wait.ts";

/** The CPUs this test process may run on (children inherit them). */
const OWN = parseCpuList(
  /^Cpus_allowed_list:\s*(\S+)$/m.exec(
    await Deno.readTextFile("/proc/self/status"),
  )![1]!,
);

Deno.test("startChild() accepts a child whose mask lies within the CPUs given", async () => {
  const child = startChild({
    command: "true",
    args: [],
    env: {},
    cpus: OWN,
  });
  assert.equal((await child.status).code, 0);
});

const OUTSIDE =
  "startChild() kills a child that may run outside the CPUs given";
Deno.test({
  name: OUTSIDE,
  ignore: skipUnless(
    OUTSIDE,
    OWN.size < 2 ? `this process runs on one CPU only (${OWN})` : undefined,
  ),
  async fn() {
    // The child inherits this process's mask: more than the one CPU promised.
    const promised = parseCpuList(String(OWN.toArray()[0]));
    let pid = 0;
    assert.throws(
      () =>
        startChild({
          command: "sleep",
          args: ["30"],
          env: {},
          cpus: promised,
        }),
      (e: unknown) => {
        const match = /\(pid (\d+)\)/.exec(String((e as Error).message));
        pid = Number(match?.[1]);
        return e instanceof AffinityError && e.errno === undefined &&
          (e as Error).message ===
            `Command "sleep" (pid ${pid}) started on CPUs ${OWN}, not within ${promised}; killed it`;
      },
    );
    // Killed: gone, or a zombie waiting to be reaped.
    await waitFor("the child to die", async () => {
      const status = await Deno.readTextFile(`/proc/${pid}/status`)
        .catch(() => "State:\tgone");
      return /^State:\s*(Z|X|gone)/m.test(status) ? true : undefined;
    });
  },
});

const PROCESS_TS = new URL("../../core/process.ts", import.meta.url).href;

/**
 * Runs a Deno program (`code`, with `startChild` and `waitForExitCode` in
 * scope) under `sh -c '<prelude>; exec deno ...'`: the prelude sets up
 * what a Deno process cannot (a variable whose value is not UTF-8).
 */
async function runUnderShell(
  prelude: string,
  code: string,
): Promise<{ code: number; stderr: string }> {
  const dir = await Deno.makeTempDir({ prefix: "kcm-process-" });
  try {
    const script = join(dir, "main.ts");
    await Deno.writeTextFile(
      script,
      `import { startChild, waitForExitCode } from ${
        JSON.stringify(PROCESS_TS)
      };\n${code}\n`,
    );
    const result = await new Deno.Command("sh", {
      args: [
        "-c",
        `${prelude}; exec "$0" run --quiet --allow-all "$1"`,
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
  const out = await Deno.makeTempFile({ prefix: "kcm-process-env-" });
  try {
    const result = await runUnderShell(
      `RAW_VALUE=$(printf 'a\\377b'); KCM_EXTRA=old; export RAW_VALUE KCM_EXTRA`,
      `const child = startChild({ command: "sh", args: ["-c", 'printf %s "$RAW_VALUE" | od -An -tx1 > "$0"; env | grep -c "^KCM_EXTRA=" >> "$0"; echo "$KCM_EXTRA" >> "$0"', ${
        JSON.stringify(out)
      }], env: { KCM_EXTRA: "new" } });
      Deno.exit(await waitForExitCode(child));`,
    );
    assert.equal(result.code, 0, result.stderr);
    const lines = (await Deno.readTextFile(out)).trim().split("\n")
      .map((line) => line.trim());
    assert.deepEqual(lines, ["61 ff 62", "1", "new"]);
  } finally {
    await Deno.remove(out);
  }
});

Deno.test("the command runs in a session of its own, with no signal blocked and SIGPIPE not ignored", async () => {
  const out = await Deno.makeTempFile({ prefix: "kcm-process-sig-" });
  try {
    // Field 6 of /proc/self/stat is the session, 1 the pid.
    const child = startChild({
      command: "sh",
      args: [
        "-c",
        'read -r pid rest < /proc/self/stat; echo "$pid $(cut -d")" -f2 /proc/self/stat | cut -d" " -f5)" > "$0"; grep -E "^(SigBlk|SigIgn):" /proc/self/status >> "$0"',
        out,
      ],
      env: {},
    });
    assert.equal(await waitForExitCode(child), 0);
    // Deno ignores SIGPIPE itself; the command must not inherit that.
    assert.match(
      await Deno.readTextFile("/proc/self/status"),
      /^SigIgn:\s*[0-9a-f]*1[0-9a-f]{3}$/m,
    );
    const [ids, blocked, ignored] = (await Deno.readTextFile(out)).trim()
      .split("\n");
    const [pid, session] = ids!.split(" ");
    assert.equal(session, pid);
    assert.match(blocked!, /^SigBlk:\s*0+$/);
    assert.doesNotMatch(ignored!, /^SigIgn:.*1[0-9a-f]{3}$/);
  } finally {
    await Deno.remove(out);
  }
});

Deno.test("the exit code is the status, or 128+N for signal N (real-time ones too)", async () => {
  const run = (script: string) =>
    waitForExitCode(
      startChild({ command: "sh", args: ["-c", script], env: {} }),
    );
  const codes = await Promise.all([
    run("exit 7"),
    run("kill -TERM $$"),
    run("kill -s 40 $$"),
  ]);
  assert.deepEqual(codes, [7, 128 + 15, 128 + 40]);
});

Deno.test("a script without a #! line runs through /bin/sh, named by path or found along PATH, as execvp(3) runs it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kcm-process-sh-" });
  try {
    const script = join(dir, "no-hash-bang");
    await Deno.writeTextFile(script, 'echo "$0 $*" >> "$OUT"\n');
    await Deno.chmod(script, 0o755);
    const out = join(dir, "out");
    const result = await runUnderShell(
      `PATH=${dir}:$PATH; OUT=${out}; export PATH OUT`,
      `const codes = [
         await waitForExitCode(startChild({ command: ${
        JSON.stringify(script)
      }, args: ["a", "b"], env: {} })),
         await waitForExitCode(startChild({ command: "no-hash-bang", args: ["c"], env: {} })),
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
