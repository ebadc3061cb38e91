/**
 * docs/architecture.md's module map stays true: it names every module of
 * main.ts, commands/ and core/, and no module that is gone; and the
 * modules it marks `(pure)` are the ones tests/architecture_test.ts keeps
 * pure.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "./_helpers/run_cli.ts";

async function modules(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(join(REPO_ROOT, dir))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) found.push(...await modules(path));
    else if (entry.name.endsWith(".ts")) found.push(path);
  }
  return found;
}

/** The map's rows: module path -> whether it is marked pure. */
async function mapRows(): Promise<Map<string, boolean>> {
  const text = await Deno.readTextFile(
    join(REPO_ROOT, "docs/architecture.md"),
  );
  const rows = new Map<string, boolean>();
  for (const line of text.split("\n")) {
    const match = /^\| `([^`]+\.ts)` +\|(.*)\|$/.exec(line);
    if (match) rows.set(match[1]!, match[2]!.trimEnd().endsWith("(pure)"));
  }
  return rows;
}

Deno.test("docs/architecture.md maps every module, and only existing ones", async () => {
  const rows = await mapRows();
  const actual = [
    "main.ts",
    ...await modules("commands"),
    ...await modules("core"),
  ]
    .sort();
  const mapped = [...rows.keys()].sort();
  assert.deepEqual(
    actual.filter((m) => !rows.has(m)),
    [],
    "modules missing from the map",
  );
  assert.deepEqual(
    mapped.filter((m) => !actual.includes(m)),
    [],
    "the map names modules that do not exist",
  );
});

Deno.test("docs/architecture.md marks pure exactly the modules the layering test keeps pure", async () => {
  const rows = await mapRows();
  const source = await Deno.readTextFile(
    join(REPO_ROOT, "tests/architecture_test.ts"),
  );
  const list = /const PURE = \[([^\]]*)\]/.exec(source)![1]!;
  const pure = [...list.matchAll(/"([^"]+)"/g)].map((m) => m[1]!).sort();
  const marked = [...rows].filter(([, p]) => p).map(([m]) => m).sort();
  assert.deepEqual(marked, pure);
});
