/** The before/after pod of docs/user.md is what the webhook really does. */

import assert from "node:assert/strict";
import { join } from "node:path";
import { parse } from "yaml";
import { type Json, mutate } from "../../_helpers/admission.ts";
import { REPO_ROOT } from "../../_helpers/run_cli.ts";

function example(markdown: string, which: string): Json {
  const marker = `<!-- webhook example: ${which} -->`;
  const at = markdown.indexOf(marker);
  assert.ok(at >= 0, `docs/user.md lacks ${marker}`);
  const block = /```yaml\n([\s\S]*?)```/.exec(markdown.slice(at));
  assert.ok(block, `no yaml block after ${marker}`);
  return parse(block[1]!);
}

Deno.test("docs/user.md shows the pod the webhook makes of its example", async () => {
  const markdown = await Deno.readTextFile(join(REPO_ROOT, "docs/user.md"));
  const { answer, after } = mutate(example(markdown, "before"));
  assert.equal(answer.review.response.allowed, true);
  assert.deepEqual(after, example(markdown, "after"));
});
