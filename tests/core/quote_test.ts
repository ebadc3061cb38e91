/**
 * Messages stay one line: quote() and oneLine() escape every control
 * character, and no message in core/ or commands/ quotes a value by hand.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { oneLine, quote } from "../../core/quote.ts";
import { createLogger } from "../../core/log.ts";
import { REPO_ROOT } from "../_helpers/run_cli.ts";

Deno.test("quote() escapes control characters, quotes and backslashes", () => {
  const cases: [string, string][] = [
    ["plain", '"plain"'],
    ["1\n2", '"1\\n2"'],
    ["a\r\tb", '"a\\r\\tb"'],
    [
      "\u0000\u001b[31m\u007f\u0085\u009f",
      '"\\u0000\\u001b[31m\\u007f\\u0085\\u009f"',
    ],
    ["\u2028\u2029", '"\\u2028\\u2029"'],
    ['say "hi" \\ bye', '"say \\"hi\\" \\\\ bye"'],
    ["caf\udce9", '"caf\\udce9"'], // a byte that is not UTF-8
    ["café 😀 \u{1f080}", '"café 😀 \u{1f080}"'], // pairs stay whole
  ];
  for (const [value, quoted] of cases) assert.equal(quote(value), quoted);
  assert.equal(quote(42), '"42"');
});

Deno.test("oneLine() escapes what breaks a line and nothing else", () => {
  assert.equal(oneLine('a\nb "c" \\d'), 'a\\nb "c" \\d');
  assert.equal(oneLine("x\udcffy\u2028"), "x\\udcffy\\u2028");
  assert.ok(!/[\n\r]/.test(oneLine("\n\r\u000b\u000c\u001c\u0085")));
});

Deno.test("createLogger() writes each message on one line", () => {
  const lines: string[] = [];
  const log = createLogger("INFO", (line) => lines.push(line));
  log.info("Reclaimed p:0 from\npids 1");
  assert.deepEqual(lines, ["INFO:root:Reclaimed p:0 from\\npids 1\n"]);
});

Deno.test("every message quotes its values with quote(), not by hand", async () => {
  // A value written as "${...}" in a template literal prints control
  // characters raw: use ${quote(...)} (or oneLine for a bare value).
  // The two quoting functions themselves, and the Prometheus text format,
  // which escapes its label values itself, are the exceptions.
  const writers = ["core/quote.ts", "core/json.ts"];
  const allowed = [/escapeLabelValue\(/];
  const offenders: string[] = [];
  for (const dir of ["core", "core/k8s", "core/webhook", "commands"]) {
    for await (const entry of Deno.readDir(join(REPO_ROOT, dir))) {
      if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
      const file = `${dir}/${entry.name}`;
      if (writers.includes(file)) continue;
      const lines = (await Deno.readTextFile(join(REPO_ROOT, file))).split(
        "\n",
      );
      lines.forEach((line, i) => {
        if (/^\s*(\*|\/\/)/.test(line)) return;
        if (!/"\$\{/.test(line)) return;
        if (allowed.some((pattern) => pattern.test(line))) return;
        offenders.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
  }
  assert.deepEqual(offenders, []);
});
