/**
 * `kcm describe` against the reference's JSON rules on random config
 * directories: pool names numeric, Unicode (U+E000-U+FFFF and above U+FFFF
 * included), with control characters, or not UTF-8 at all; random flags,
 * cpu lists and tasks. The expected bytes come from an independent model of
 * Python's `json.dumps(sort_keys=True, indent=2)` (tests/_helpers/
 * python_json.ts) applied to the dict the reference built, so that a
 * regression in key order or escaping (integer-like keys first, UTF-16
 * order, a raw DEL) cannot come back. Most runs call the command in
 * process with a capturing host; a few go through the CLI.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import fc from "fast-check";
import { run } from "../../commands/describe.ts";
import { createHost } from "../../core/host.ts";
import { pythonJsonDumps, type PyValue } from "../_helpers/python_json.ts";
import { runKcm } from "../_helpers/run_cli.ts";
import { renameToBytes } from "../_helpers/temp_config_dir.ts";

/** A directory name: its bytes, and the text Python 3 read them as. */
interface Name {
  readonly text: string;
  /** Set when the name is not UTF-8 (and so made by rename(2)). */
  readonly bytes?: readonly number[];
}

const encoder = new TextEncoder();

const char = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }).filter((c) => c !== 0x2f), // no "/"
  fc.constantFrom(0x0a, 0x09, 0x0d, 0x01, 0x1b, 0x7f, 0x85, 0x2028),
  fc.integer({ min: 0xa0, max: 0xd7ff }),
  fc.integer({ min: 0xe000, max: 0xffff }),
  fc.integer({ min: 0x10000, max: 0x10ffff }),
).map((cp) => String.fromCodePoint(cp));

const text = fc.array(char, { minLength: 1, maxLength: 6 }).map((cs) =>
  cs.join("")
).filter((t) => t !== "." && t !== "..");

/**
 * A name that is not UTF-8: text pieces and single bytes that no UTF-8
 * sequence can hold at that place (a lone continuation byte, or F5-FF),
 * each of which Python read as the lone surrogate U+DC00 + byte.
 */
const rawName: fc.Arbitrary<Name> = fc.array(
  fc.oneof(
    text.map((t) => ({ raw: false, text: t, bytes: [...encoder.encode(t)] })),
    fc.oneof(
      fc.integer({ min: 0x80, max: 0xbf }),
      fc.integer({ min: 0xf5, max: 0xff }),
    ).map((b) => ({
      raw: true,
      text: String.fromCharCode(0xdc00 + b),
      bytes: [b],
    })),
  ),
  { minLength: 1, maxLength: 4 },
).filter((parts) => parts.some((part) => part.raw)).map((parts) => ({
  text: parts.map((part) => part.text).join(""),
  bytes: parts.flatMap((part) => part.bytes),
}));

const poolName: fc.Arbitrary<Name> = fc.oneof(
  fc.nat({ max: 200 }).map((n) => ({ text: String(n) })),
  fc.constantFrom("__proto__", "constructor", "exclusive", "10", "8", "100")
    .map((t) => ({ text: t })),
  text.map((t) => ({ text: t })),
  rawName,
);

/** A cpu list name kcm accepts: ids and ranges, joined by ",". */
const listName = fc.array(
  fc.oneof(
    fc.nat({ max: 300 }).map(String),
    fc.nat({ max: 8191 }).map(String),
    fc.tuple(fc.nat({ max: 200 }), fc.integer({ min: 1, max: 64 })).map((
      [lo, n],
    ) => `${lo}-${lo + n}`),
  ),
  { minLength: 1, maxLength: 3 },
).map((pieces) => pieces.join(","));

/** A tasks file: its text and the pids it holds. */
const tasks = fc.tuple(
  fc.array(fc.integer({ min: 1, max: 4_194_304 }), { maxLength: 4 }),
  fc.constantFrom(",", ", ", ",,"),
  fc.constantFrom("", "\n"),
).map(([pids, separator, end]) => ({
  text: pids.join(separator) + (pids.length > 0 ? end : ""),
  pids,
}));

const pool = fc.record({
  name: poolName,
  flag: fc.constantFrom("1", "0", "", "1\n", "x", "10"),
  lists: fc.uniqueArray(fc.record({ name: listName, tasks }), {
    selector: (l) => l.name,
    maxLength: 4,
  }),
});

const config = fc.uniqueArray(pool, {
  selector: (p) => p.name.text,
  maxLength: 4,
});

type Config = typeof config extends fc.Arbitrary<infer T> ? T : never;

/** Writes `spec` below a fresh temp folder; returns the config dir. */
function writeConfig(spec: Config): { root: string; confDir: string } {
  const root = Deno.makeTempDirSync({ prefix: "kcm-describe-prop-" });
  const confDir = join(root, "kcm");
  Deno.mkdirSync(join(confDir, "pools"), { recursive: true });
  Deno.writeTextFileSync(join(confDir, "lock"), "");
  spec.forEach((p, i) => {
    const dir = join(confDir, "pools", p.name.bytes ? `raw-${i}` : p.name.text);
    Deno.mkdirSync(dir);
    Deno.writeTextFileSync(join(dir, "exclusive"), p.flag);
    for (const list of p.lists) {
      Deno.mkdirSync(join(dir, list.name));
      Deno.writeTextFileSync(join(dir, list.name, "tasks"), list.tasks.text);
    }
    if (p.name.bytes) renameToBytes(dir, p.name.bytes);
  });
  return { root, confDir };
}

/** The dict the reference's describe built for `spec`. */
function referenceDict(confDir: string, spec: Config): PyValue {
  return new Map<string, PyValue>([
    ["path", confDir],
    [
      "pools",
      new Map(spec.map((p) => [
        p.name.text,
        new Map<string, PyValue>([
          [
            "cpuLists",
            new Map(p.lists.map((l) => [
              l.name,
              new Map<string, PyValue>([
                ["cpus", l.name],
                ["tasks", l.tasks.pids],
              ]),
            ])),
          ],
          ["exclusive", p.flag.startsWith("1")],
          ["name", p.name.text],
        ]),
      ])),
    ],
  ]);
}

Deno.test("describe prints what the reference printed for random config directories", async () => {
  await fc.assert(
    fc.asyncProperty(config, async (spec) => {
      const { root, confDir } = writeConfig(spec);
      try {
        let out = "";
        const host = {
          ...createHost({}),
          write(text: string) {
            out += text;
            return Promise.resolve();
          },
        };
        assert.equal(await run({ confDir }, host), 0);
        assert.equal(out, pythonJsonDumps(referenceDict(confDir, spec)));
      } finally {
        await Deno.remove(root, { recursive: true });
      }
    }),
    { seed: 20261129, numRuns: 300 },
  );
});

Deno.test("kcm describe through the CLI prints the same bytes", async () => {
  await fc.assert(
    fc.asyncProperty(config, async (spec) => {
      const { root, confDir } = writeConfig(spec);
      try {
        const result = await runKcm(["describe", `--conf-dir=${confDir}`]);
        assert.equal(result.stderr, "");
        assert.equal(result.code, 0);
        assert.equal(
          result.stdout,
          pythonJsonDumps(referenceDict(confDir, spec)),
        );
      } finally {
        await Deno.remove(root, { recursive: true });
      }
    }),
    { seed: 17, numRuns: 6 },
  );
});
