/**
 * The docs stay true: every `$ kcm ...` example in docs/cli.md is run and
 * its output compared, and every relative link in README.md and docs/*.md
 * points at a file (and heading) that exists.
 *
 * How examples run: each ```console block gets a fresh temp root. Paths
 * `/etc/kcm` and `/opt/bin` in a command are moved below that root (and the
 * root is cut from the output again). kcm sees the sysfs fixture
 * `xeon_d_1x8x2` (`KCM_SYS_FS`) and a procfs whose `self/stat` says pid
 * 4242 (`KCM_PROC_FS`), and a `kcm` launcher is first on `PATH`. The text
 * under a command is its stdout followed by its stderr. A command ending in
 * `# exit N` must exit N, any other 0.
 */

import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { installLauncher } from "../core/install.ts";
import { MAIN_TS, REPO_ROOT, runKcm } from "./_helpers/run_cli.ts";

const SYSFS = join(REPO_ROOT, "tests/fixtures/sysfs/xeon_d_1x8x2");
const MOVED_PATHS = ["/etc/kcm", "/opt/bin"];

interface Example {
  readonly line: number;
  readonly command: string;
  readonly expected: string;
}

/** The ```console blocks of `markdown`, each as its `$ kcm` examples. */
function consoleBlocks(markdown: string): Example[][] {
  const blocks: Example[][] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== "```console") continue;
    const block: Example[] = [];
    let current: { line: number; command: string; out: string[] } | undefined;
    const flush = () => {
      if (current) {
        block.push({
          line: current.line,
          command: current.command,
          expected: current.out.map((l) => l + "\n").join(""),
        });
      }
    };
    for (i++; i < lines.length && lines[i]!.trim() !== "```"; i++) {
      const text = lines[i]!;
      if (text.startsWith("$ ")) {
        flush();
        current = { line: i + 1, command: text.slice(2), out: [] };
      } else {
        assert.ok(current, `cli.md:${i + 1}: output before any $ command`);
        current.out.push(text);
      }
    }
    flush();
    if (block.length > 0) blocks.push(block);
  }
  return blocks;
}

/** Splits a command line into words: single and double quotes, `\`. */
function shellWords(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === " " || c === "\t") {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      assert.ok(end > i, `unclosed ' in: ${text}`);
      word = (word ?? "") + text.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      const end = text.indexOf('"', i + 1);
      assert.ok(end > i, `unclosed " in: ${text}`);
      word = (word ?? "") + text.slice(i + 1, end);
      i = end;
    } else if (c === "\\") {
      word = (word ?? "") + (text[++i] ?? "");
    } else {
      word = (word ?? "") + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

interface Parsed {
  readonly env: Record<string, string>;
  readonly args: string[];
  readonly exitCode: number;
}

function parseCommand(command: string, root: string): Parsed {
  const comment = /\s+#\s*exit\s+(\d+)\s*$/.exec(command);
  const text = comment ? command.slice(0, comment.index) : command;
  const words = shellWords(text);
  const env: Record<string, string> = {};
  while (words.length > 0 && /^[A-Z_][A-Z0-9_]*=/.test(words[0]!)) {
    const word = words.shift()!;
    const eq = word.indexOf("=");
    env[word.slice(0, eq)] = word.slice(eq + 1);
  }
  assert.equal(words.shift(), "kcm", `not a kcm command: ${command}`);
  const move = (word: string) => {
    for (const path of MOVED_PATHS) {
      word = word.replaceAll(path, root + path);
    }
    return word;
  };
  return {
    env,
    args: words.map(move),
    exitCode: comment ? Number(comment[1]) : 0,
  };
}

async function makeRoot(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "kcm-docs-" });
  await Deno.mkdir(join(root, "proc/self"), { recursive: true });
  await Deno.writeTextFile(
    join(root, "proc/self/stat"),
    "4242 (kcm) R 1 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 100\n",
  );
  await Deno.writeTextFile(
    join(root, "proc/meminfo"),
    "MemTotal:       16384000 kB\nHugePages_Total:    1024\nHugePages_Free:      512\n",
  );
  await Deno.mkdir(join(root, "etc"));
  await installLauncher(
    { denoPath: Deno.execPath(), mainPath: MAIN_TS },
    join(root, "bin"),
  );
  return root;
}

const cli = await Deno.readTextFile(join(REPO_ROOT, "docs/cli.md"));
const blocks = consoleBlocks(cli);

Deno.test("docs/cli.md has examples of every subcommand", () => {
  const commands = new Set(
    blocks.flat().map((e) => shellWords(e.command.replace(/#.*$/, "")))
      .map((w) => w.find((x) => !x.includes("=") && x !== "kcm") ?? ""),
  );
  for (
    const name of ["init", "describe", "isolate", "reconcile", "node-report"]
  ) {
    assert.ok(commands.has(name), `no example of kcm ${name}`);
  }
});

for (const [index, block] of blocks.entries()) {
  Deno.test(
    `docs/cli.md example ${index + 1} (line ${block[0]!.line}: ${
      block[0]!.command
    }) prints what it shows`,
    async () => {
      const root = await makeRoot();
      try {
        for (const example of block) {
          const { env, args, exitCode } = parseCommand(example.command, root);
          const result = await runKcm(args, {
            env: {
              KCM_SYS_FS: SYSFS,
              KCM_PROC_FS: join(root, "proc"),
              PATH: `${join(root, "bin")}:${
                Deno.env.get("PATH") ?? "/usr/bin"
              }`,
              ...env,
            },
            cwd: root,
          });
          const shown = (result.stdout + result.stderr).replaceAll(root, "");
          assert.equal(
            shown,
            example.expected,
            `cli.md:${example.line}: $ ${example.command}`,
          );
          assert.equal(
            result.code,
            exitCode,
            `cli.md:${example.line}: exit status`,
          );
        }
      } finally {
        await Deno.remove(root, { recursive: true });
      }
    },
  );
}

// ---------------------------------------------------------------------------
// Links

/** GitHub's anchor for a heading: lowercase, punctuation dropped, `-` for spaces. */
function slug(heading: string): string {
  return heading.trim().toLowerCase()
    .replace(/`/g, "")
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

function anchors(markdown: string): Set<string> {
  const found = new Set<string>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const heading = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
    if (heading) found.add(slug(heading[1]!));
  }
  return found;
}

/** Link targets of `markdown`: inline `](x)` and reference `[x]: y`. */
function links(markdown: string): string[] {
  const text = markdown.replace(/```[^]*?```/g, "").replace(/`[^`\n]*`/g, "");
  const targets: string[] = [];
  for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    targets.push(m[1]!);
  }
  for (const m of text.matchAll(/^\s*\[[^\]]+\]:\s+(\S+)/gm)) {
    targets.push(m[1]!);
  }
  return targets;
}

async function markdownFiles(): Promise<string[]> {
  const files = ["README.md"];
  for await (const entry of Deno.readDir(join(REPO_ROOT, "docs"))) {
    if (entry.isFile && entry.name.endsWith(".md")) {
      files.push(`docs/${entry.name}`);
    }
  }
  return files.sort();
}

Deno.test("README and docs link only to files and headings that exist", async () => {
  const files = await markdownFiles();
  for (
    const doc of [
      "build",
      "operator",
      "user",
      "cli",
      "config",
      "end-to-end-tests",
    ]
  ) {
    assert.ok(files.includes(`docs/${doc}.md`), `docs/${doc}.md is missing`);
  }
  const broken: string[] = [];
  let checked = 0;
  for (const file of files) {
    const text = await Deno.readTextFile(join(REPO_ROOT, file));
    for (const target of links(text)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, mailto:
      checked++;
      const [path, anchor] = target.split("#", 2) as [string, string?];
      const resolved = path === ""
        ? join(REPO_ROOT, file)
        : join(REPO_ROOT, dirname(file), decodeURIComponent(path));
      const info = await Deno.stat(resolved).catch(() => undefined);
      if (info === undefined) {
        broken.push(`${file}: ${target} (no such file)`);
        continue;
      }
      if (anchor !== undefined && anchor !== "") {
        if (!resolved.endsWith(".md")) continue;
        const headings = anchors(await Deno.readTextFile(resolved));
        if (!headings.has(anchor)) {
          broken.push(`${file}: ${target} (no such heading)`);
        }
      }
    }
  }
  assert.deepEqual(broken, []);
  assert.ok(checked >= 6, `only ${checked} relative links found`);
});

Deno.test("slug() makes GitHub's heading anchors", () => {
  assert.equal(slug("Exit status"), "exit-status");
  assert.equal(slug("`kcm isolate`"), "kcm-isolate");
  assert.equal(slug("1. Build the image"), "1-build-the-image");
  assert.equal(slug("Lock protocol (flock)"), "lock-protocol-flock");
});

/** Repository paths named in backticks: `core/x.ts`, `tests/_helpers/y.ts`. */
const REPO_PATH =
  /`((?:core|commands|tests|bench|docs|resources)\/[A-Za-z0-9_./-]+\.(?:ts|md|yaml|json|go))`/g;

Deno.test("the docs and bench/ name only files that exist (repoPath() arguments and paths in backticks)", async () => {
  const texts = new Map<string, string>();
  for (const file of [...await markdownFiles(), "bench/README.md"]) {
    texts.set(file, await Deno.readTextFile(join(REPO_ROOT, file)));
  }
  for await (const entry of Deno.readDir(join(REPO_ROOT, "bench"))) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    const file = `bench/${entry.name}`;
    texts.set(file, await Deno.readTextFile(join(REPO_ROOT, file)));
  }
  const missing: string[] = [];
  let checked = 0;
  for (const [file, text] of texts) {
    const named = [
      ...[...text.matchAll(REPO_PATH)].map((m) => m[1]!),
      ...[...text.matchAll(/repoPath\("([^"]+)"\)/g)].map((m) => m[1]!),
    ];
    for (const path of named) {
      checked++;
      const info = await Deno.stat(join(REPO_ROOT, path)).catch(() => null);
      if (info === null) missing.push(`${file}: ${path}`);
    }
  }
  assert.deepEqual(missing, []);
  assert.ok(checked >= 50, `only ${checked} paths found`);
});
