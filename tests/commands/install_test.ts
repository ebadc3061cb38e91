import assert from "node:assert/strict";
import { join } from "node:path";
import { installKcm, parse } from "../../commands/install.ts";
import { UsageError } from "../../core/errors.ts";
import { installLauncher } from "../../core/install.ts";
import { MAIN_TS, REPO_ROOT, runFile, runKcm } from "../_helpers/run_cli.ts";
import { cannotConfine, skipUnless } from "../_helpers/confine.ts";
import { listNames, makeConfigDir } from "../_helpers/temp_config_dir.ts";

const decoder = new TextDecoder();

async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "kcm-install-test-" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

function assertOneErrorLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0]!, /^kcm: error: Cannot install kcm to /);
  assert.match(lines[0]!, pattern);
}

Deno.test("parse() takes --install-dir and rejects an empty one", () => {
  const invocation = (dir: string) => ({
    kind: "command" as const,
    command: "install" as const,
    options: { "install-dir": dir },
    given: new Set<"install-dir">(["install-dir"]),
    positionals: [],
    rest: undefined,
  });
  assert.deepEqual(parse(invocation("/opt/bin")), { installDir: "/opt/bin" });
  assert.throws(() => parse(invocation("")), UsageError);
});

Deno.test("kcm install from source writes a 0755 launcher that behaves like the source", async () => {
  await using tmp = await tempDir();
  const root = tmp.path;
  const dir = join(root, "a", "b", "bin"); // created, parents too
  const result = await runKcm(["install", `--install-dir=${dir}`]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "");
  assert.equal(result.stderr, `INFO:root:Installed kcm to ${dir}\n`);
  assert.deepEqual(await listNames(dir), ["kcm"]);
  const kcm = join(dir, "kcm");
  const info = await Deno.stat(kcm);
  assert.equal(info.mode! & 0o7777, 0o755);
  const text = await Deno.readTextFile(kcm);
  assert.ok(text.startsWith("#!/bin/sh\n"), text);
  assert.ok(text.includes(`'${Deno.execPath()}'`), text);
  assert.ok(text.includes(`'${MAIN_TS}'`), text);

  for (const args of [["--help"], ["--version"], ["-h"]]) {
    const source = await runKcm(args);
    const installed = await runFile(kcm, args);
    assert.equal(installed.code, 0, installed.stderr);
    assert.equal(installed.stdout, source.stdout);
    assert.equal(installed.stderr, source.stderr);
  }
  // A usage error keeps its exit status and message.
  const source = await runKcm(["frobnicate"]);
  const installed = await runFile(kcm, ["frobnicate"]);
  assert.equal(installed.code, 2);
  assert.equal(installed.code, source.code);
  assert.equal(installed.stderr, source.stderr);
});

Deno.test("kcm install launcher runs describe and isolate (exit status kept)", async () => {
  await using tmp = await tempDir();
  const root = tmp.path;
  await using config = await makeConfigDir({
    dataplane: { exclusive: true, lists: { "1": "" } },
    infra: { exclusive: false, lists: { "0": "" } },
  });
  const result = await runKcm(["install", `--install-dir=${root}`]);
  assert.equal(result.code, 0, result.stderr);
  const kcm = join(root, "kcm");

  const describe = await runFile(kcm, [
    "describe",
    "--conf-dir",
    config.confDir,
  ]);
  const expected = await runKcm(["describe", "--conf-dir", config.confDir]);
  assert.equal(describe.code, 0, describe.stderr);
  assert.equal(describe.stdout, expected.stdout);
  assert.match(describe.stdout, /"name": "dataplane"/);

  const isolate = await runFile(kcm, [
    "isolate",
    `--conf-dir=${config.confDir}`,
    "--pool=dataplane",
    "sh",
    "--",
    "-c",
    'echo "$KCM_CPUS_ASSIGNED"; exit 7',
  ]);
  assert.equal(isolate.code, 7, isolate.stderr);
  assert.equal(isolate.stdout, "1\n");
  assert.equal(await config.tasks("dataplane", "1"), "");
});

Deno.test("installLauncher() quotes paths with spaces and quotes", async () => {
  await using tmp = await tempDir();
  const root = tmp.path;
  const odd = join(root, "it's a deno");
  await Deno.symlink(Deno.execPath(), odd);
  const dir = join(root, "bin dir");
  const path = await installLauncher({ denoPath: odd, mainPath: MAIN_TS }, dir);
  assert.equal(path, join(dir, "kcm"));
  const version = await runFile(path, ["--version"]);
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout, (await runKcm(["--version"])).stdout);
  // "$@" keeps arguments with spaces as one argument each.
  const bad = await runFile(path, ["describe", "--conf-dir", "/no such/dir"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /"\/no such\/dir\/lock"/);
});

Deno.test("kcm install replaces a running kcm by rename, never in place", async () => {
  await using tmp = await tempDir();
  const root = tmp.path;
  const kcm = join(root, "kcm");
  await Deno.writeTextFile(kcm, "#!/bin/sh\necho old kcm\n", { mode: 0o755 });
  const before = await Deno.stat(kcm);
  // A process still holding the old file (as a running binary does) keeps
  // reading the old bytes.
  using held = await Deno.open(kcm, { read: true });
  const result = await runKcm(["install", `--install-dir=${root}`]);
  assert.equal(result.code, 0, result.stderr);
  const after = await Deno.stat(kcm);
  assert.notEqual(after.ino, before.ino);
  const buffer = new Uint8Array(64);
  const n = await held.read(buffer);
  assert.equal(
    decoder.decode(buffer.subarray(0, n ?? 0)),
    "#!/bin/sh\necho old kcm\n",
  );
  assert.equal((await runFile(kcm, ["--version"])).stdout, "KCM 0.2.0\n");
  assert.deepEqual(await listNames(root), ["kcm"]);
});

Deno.test("installKcm() in compiled mode copies the running executable", async () => {
  await using tmp = await tempDir();
  const root = tmp.path;
  // Stand-in for a compiled kcm: an executable script plus 3 MiB of data
  // after an `exit`, so the copy spans many reads.
  const source = join(root, "kcm-built");
  const payload = new Uint8Array(3 * 1024 * 1024 + 17);
  for (let i = 0; i < payload.length; i += 65536) {
    crypto.getRandomValues(payload.subarray(i, i + 65536));
  }
  const head = new TextEncoder().encode('#!/bin/sh\necho "copy $*"\nexit 3\n');
  const bytes = new Uint8Array(head.length + payload.length);
  bytes.set(head);
  bytes.set(payload, head.length);
  await Deno.writeFile(source, bytes, { mode: 0o700 });

  const dir = join(root, "opt", "bin");
  const path = await installKcm(
    { standalone: true, execPath: source, mainPath: undefined },
    dir,
  );
  assert.equal(path, join(dir, "kcm"));
  assert.deepEqual(await Deno.readFile(path), bytes);
  assert.equal((await Deno.stat(path)).mode! & 0o7777, 0o755);
  const run = await runFile(path, ["a", "b"]);
  assert.equal(run.code, 3);
  assert.equal(run.stdout, "copy a b\n");
  assert.deepEqual(await listNames(dir), ["kcm"]);

  // Not compiled and not from a local checkout: a clear error.
  await assert.rejects(
    installKcm(
      { standalone: false, execPath: source, mainPath: undefined },
      dir,
    ),
    /not running from a local checkout/,
  );
});

// Failures: one line, exit 1, nothing left behind.

Deno.test("kcm install into a path that is a file, or below one, fails cleanly", async () => {
  await using tmp = await tempDir();
  const root = tmp.path;
  const file = join(root, "plain");
  await Deno.writeTextFile(file, "not a dir");
  const cases: [string, RegExp][] = [
    [file, /it exists and is not a directory$/],
    [join(file, "sub"), /: not a directory$/],
    [join(file, "sub", "deeper"), /: not a directory$/],
  ];
  for (const [dir, pattern] of cases) {
    const result = await runKcm(["install", `--install-dir=${dir}`]);
    assert.equal(result.code, 1, dir);
    assert.equal(result.stdout, "");
    assertOneErrorLine(result.stderr, pattern);
  }
  assert.equal(await Deno.readTextFile(file), "not a dir");
  assert.deepEqual(await listNames(root), ["plain"]);
});

Deno.test("kcm install when <dir>/kcm is a directory fails and leaves no temp file", async () => {
  await using tmp = await tempDir();
  const root = tmp.path;
  await Deno.mkdir(join(root, "kcm"));
  const result = await runKcm(["install", `--install-dir=${root}`]);
  assert.equal(result.code, 1);
  assertOneErrorLine(
    result.stderr,
    /"kcm" is a directory|kcm" is a directory$/,
  );
  assert.deepEqual(await listNames(root), ["kcm"]);
});

Deno.test("kcm install into /proc (no files can be created) fails cleanly", async () => {
  for (const dir of ["/proc/kcm-install-test", "/proc/self/fd/kcm"]) {
    const result = await runKcm(["install", `--install-dir=${dir}`]);
    assert.equal(result.code, 1, dir);
    assertOneErrorLine(result.stderr, /: [a-z ]+$/);
  }
});

/** True when `path` and every directory above it can be read by others. */
async function worldReadable(path: string): Promise<boolean> {
  let current = path;
  for (;;) {
    const info = await Deno.stat(current).catch(() => undefined);
    if (info?.mode == null) return false;
    const needed = info.isDirectory ? 0o005 : 0o004;
    if ((info.mode & needed) !== needed) return false;
    if (current === "/") return true;
    current = current.slice(0, current.lastIndexOf("/")) || "/";
  }
}

const SETPRIV = "/usr/bin/setpriv";
const NOBODY_CANNOT_WRITE =
  "kcm install as a user who cannot write the directory: permission denied";
const cannotDropRoot = cannotConfine ??
  (!(await worldReadable(MAIN_TS))
    ? `uid 65534 cannot read ${MAIN_TS}`
    : !(await worldReadable(Deno.execPath()))
    ? `uid 65534 cannot run ${Deno.execPath()}`
    : undefined);

Deno.test({
  name: NOBODY_CANNOT_WRITE,
  ignore: skipUnless(NOBODY_CANNOT_WRITE, cannotDropRoot),
  async fn() {
    await using tmp = await tempDir();
    const root = tmp.path;
    await Deno.chmod(root, 0o755);
    const target = join(root, "bin");
    await Deno.mkdir(target, { mode: 0o755 });
    await Deno.writeTextFile(join(target, "kcm"), "previous");
    const denoDir = join(root, "deno-dir");
    await Deno.mkdir(denoDir, { mode: 0o777 });
    await Deno.chmod(denoDir, 0o777);
    for (const dir of [target, join(target, "new")]) {
      const out = await new Deno.Command(SETPRIV, {
        args: [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          Deno.execPath(),
          "run",
          "--quiet",
          "--allow-all",
          MAIN_TS,
          "install",
          `--install-dir=${dir}`,
        ],
        env: { DENO_DIR: denoDir, HOME: denoDir, NO_COLOR: "1" },
        cwd: "/",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = decoder.decode(out.stderr);
      assert.equal(out.code, 1, stderr);
      assertOneErrorLine(stderr, /: permission denied$/);
    }
    assert.deepEqual(await listNames(target), ["kcm"]);
    assert.equal(await Deno.readTextFile(join(target, "kcm")), "previous");
  },
});

// ENOSPC: a 64 KiB tmpfs, filled up, in a private mount namespace so that
// nothing stays mounted whatever happens to the test.
const UNSHARE = "/usr/bin/unshare";
const FULL_DISK =
  "kcm install on a full filesystem: no space left, nothing half-written";

Deno.test({
  name: FULL_DISK,
  ignore: skipUnless(FULL_DISK, cannotConfine),
  async fn() {
    await using tmp = await tempDir();
    const root = tmp.path;
    const dir = join(root, "full");
    await Deno.mkdir(dir);
    const script = [
      "set -u",
      `mount -t tmpfs -o size=64k none "$1"`,
      `printf previous > "$1/kcm"`,
      // Fill the rest: dd stops with ENOSPC.
      `dd if=/dev/zero of="$1/filler" bs=4096 2>/dev/null`,
      // From source: a launcher.
      `"$2" run --quiet --allow-all "$3" install --install-dir="$1"`,
      `echo "launcher=$?"`,
      // Compiled: a copy of a 1 MiB "binary".
      `head -c 1048576 /dev/zero > "$4"`,
      `"$2" eval "import { installBinary } from 'file://$5'; await installBinary('$4', '$1').catch((e) => { console.log('binary=' + e.message); })"`,
      `ls -A "$1"`,
      `cat "$1/kcm"; echo`,
    ].join("\n");
    const out = await new Deno.Command(UNSHARE, {
      args: [
        "--mount",
        "sh",
        "-c",
        script,
        "sh",
        dir,
        Deno.execPath(),
        MAIN_TS,
        join(root, "big"),
        join(REPO_ROOT, "core/install.ts"),
      ],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = decoder.decode(out.stdout);
    const stderr = decoder.decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assertOneErrorLine(stderr, /: no space left on device$/);
    assert.equal(
      stdout,
      "launcher=1\n" +
        `binary=Cannot install kcm to "${dir}": no space left on device\n` +
        "filler\nkcm\n" +
        "previous\n",
    );
  },
});
