/**
 * The one mask comparison reconcile and node-report share, and the pids a
 * snapshot records.
 */

import assert from "node:assert/strict";
import { findMaskMismatches, recordedPids } from "../../core/task_masks.ts";
import { configState, observed } from "../_helpers/config_state.ts";

const STATE = configState({
  a: { exclusive: true, lists: { "2": [7, 8], "3": [9] } },
  b: { lists: { "0-3": [8, 10, 7] } },
});

Deno.test("recordedPids() lists each pid once, in first-seen order", () => {
  assert.deepEqual(recordedPids(STATE), [7, 8, 9, 10]);
  assert.deepEqual(recordedPids(configState({})), []);
});

Deno.test("findMaskMismatches() finds live tasks off their list, in config order", () => {
  const found = findMaskMismatches(
    STATE,
    observed({ 7: "0-3", 8: "2", 9: null }),
  );
  assert.deepEqual(
    found.map((m) => [m.pool, m.list.name, m.pid, m.actual.toString()]),
    [
      ["a", "2", 7, "0-3"],
      ["b", "0-3", 8, "2"],
    ],
  );
  // As many CPUs, other ones: a mismatch too.
  assert.deepEqual(
    findMaskMismatches(STATE, observed({ 9: "2" })).map((m) => m.pid),
    [9],
  );
  // 9 is dead and 10 was not observed: neither is a mismatch.
  assert.deepEqual(findMaskMismatches(STATE, observed({ 9: null })), []);
});
