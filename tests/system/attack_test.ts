// deno-lint-ignore-file no-console
/**
 * Every attack of tests/system/attack.ts at a small size (40 tries of
 * each random one, about a minute): no failure, no data lost. The long
 * run is `deno run -A tests/system/attack.ts --long`.
 */

import assert from "node:assert/strict";
import { cannotConfine, skipUnless } from "../_helpers/confine.ts";
import { formatTable, runAttacks } from "./attack.ts";

const NAME = "attacks on a node: no list used twice, nothing lost";

Deno.test({
  name: NAME,
  ignore: skipUnless(NAME, cannotConfine),
  async fn() {
    const seed = Number(Deno.env.get("KCM_TEST_SEED") ?? Date.now() % 2 ** 31);
    console.log(`seed ${seed} (KCM_TEST_SEED=${seed} replays the same draws)`);
    const rows = await runAttacks({ seed, tries: 40, budgetMs: 120_000 });
    console.log(formatTable(rows));
    for (const row of rows) {
      assert.ok(row.tries > 0, `${row.attack}: no try ran`);
      assert.deepEqual(
        { failures: row.failures, dataLost: row.dataLost, notes: row.notes },
        { failures: 0, dataLost: 0, notes: [] },
        row.attack,
      );
    }
  },
});
