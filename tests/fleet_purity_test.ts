/**
 * The pure modules of fleet observability (metrics, events, publish
 * policy) never touch Deno. Kept beside tests/architecture_test.ts until
 * these paths join its list of pure modules.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "./_helpers/run_cli.ts";

const PURE = [
  "core/metrics.ts",
  "core/kcm_metrics.ts",
  "core/listen_address.ts",
  "core/publish_policy.ts",
  "core/k8s/node_events.ts",
  "core/k8s/event_series.ts",
];

Deno.test("fleet observability's pure modules never touch Deno", async () => {
  for (const file of PURE) {
    const source = await Deno.readTextFile(join(REPO_ROOT, file));
    const code = source.split("\n").filter((l) => !/^\s*(\*|\/\/)/.test(l));
    assert.ok(!code.some((l) => /\bDeno\./.test(l)), `${file} mentions Deno.`);
    // Nor import an effect module.
    for (const [, target] of source.matchAll(/from "(\.[^"]+)"/g)) {
      const resolved = join(file, "..", target!);
      assert.ok(
        PURE.includes(resolved) ||
          ["core/json.ts", "core/errors.ts"].includes(resolved),
        `${file} imports ${resolved}`,
      );
    }
  }
});
