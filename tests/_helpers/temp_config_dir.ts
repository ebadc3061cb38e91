/**
 * Builds config directories for tests from a compact description, in the
 * reference layout, inside a temp folder removed when the test is done.
 */

import { join } from "node:path";

/** Pools to create: name -> flag and cpu lists (name -> tasks text). */
export type ConfigSpec = Record<
  string,
  { exclusive: boolean | string; lists: Record<string, string> }
>;

/** A temp folder holding a config directory at `confDir`. */
export interface TempConfig extends AsyncDisposable {
  readonly root: string;
  readonly confDir: string;
  /** Reads a tasks file as text. */
  tasks(pool: string, list: string): Promise<string>;
}

/** Creates `<tmp>/kcm` from `spec` (pools/, lock, exclusive, tasks). */
export async function makeConfigDir(spec: ConfigSpec): Promise<TempConfig> {
  const root = await Deno.makeTempDir({ prefix: "kcm-test-" });
  const confDir = join(root, "kcm");
  await Deno.mkdir(join(confDir, "pools"), { recursive: true });
  await Deno.writeTextFile(join(confDir, "lock"), "");
  for (const [pool, { exclusive, lists }] of Object.entries(spec)) {
    const poolDir = join(confDir, "pools", pool);
    await Deno.mkdir(poolDir);
    await Deno.writeTextFile(
      join(poolDir, "exclusive"),
      typeof exclusive === "string" ? exclusive : exclusive ? "1" : "0",
    );
    for (const [list, tasks] of Object.entries(lists)) {
      await Deno.mkdir(join(poolDir, list));
      await Deno.writeTextFile(join(poolDir, list, "tasks"), tasks);
    }
  }
  return {
    root,
    confDir,
    tasks: (pool, list) =>
      Deno.readTextFile(join(confDir, "pools", pool, list, "tasks")),
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  };
}

/** Every file below `dir` with its content, for "nothing changed" checks. */
export async function snapshotTree(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  async function walk(path: string, rel: string): Promise<void> {
    for await (const entry of Deno.readDir(path)) {
      const full = join(path, entry.name), name = join(rel, entry.name);
      if (entry.isDirectory) {
        files.set(name + "/", "");
        await walk(full, name);
      } else files.set(name, await Deno.readTextFile(full));
    }
  }
  await walk(dir, "");
  return files;
}

/** The names in `dir`, sorted. */
export async function listNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

/** printf(1) format spelling out `bytes` in octal escapes. */
function octal(bytes: readonly number[]): string {
  return bytes.map((b) => "\\" + b.toString(8).padStart(3, "0")).join("");
}

/** Runs `sh -c script` with `args` as `$1...`; returns its stdout. */
export async function sh(script: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("sh", {
    args: ["-c", script, "sh", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  if (!out.success) throw new Error(decoder.decode(out.stderr));
  return decoder.decode(out.stdout);
}

const RENAME = {
  // int rename(const char *oldpath, const char *newpath)
  rename: { parameters: ["buffer", "buffer"], result: "i32" },
} as const;
let libc: Deno.DynamicLibrary<typeof RENAME> | undefined;

function cString(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const c = new Uint8Array(bytes.length + 1);
  c.set(bytes);
  return c;
}

/**
 * Renames `path` to the name `bytes` in the same directory, with rename(2)
 * through libc: the bytes need not be UTF-8, which Deno's API cannot name.
 */
export function renameToBytes(path: string, bytes: readonly number[]): void {
  const encoder = new TextEncoder();
  const dir = encoder.encode(path.slice(0, path.lastIndexOf("/") + 1));
  const target = new Uint8Array([...dir, ...bytes]);
  libc ??= Deno.dlopen("libc.so.6", RENAME);
  const rc = libc.symbols.rename(
    cString(encoder.encode(path)),
    cString(target),
  );
  if (rc !== 0) throw new Error(`rename(${path}) failed`);
}

/** The text of `<dir>/<bytes>/<rest>`, where `bytes` need not be UTF-8. */
export function readUnderBytes(
  dir: string,
  bytes: readonly number[],
  rest: string,
): Promise<string> {
  return sh('cat -- "$1/$(printf "$2")/$3"', dir, octal(bytes), rest);
}
