/**
 * The node report's checks on snapshots in memory: each check's error
 * lines, and the report document they make.
 */

import assert from "node:assert/strict";
import { CpuSet, parseCpuList } from "../../core/cpuset.ts";
import {
  checkResult,
  findAffinityDrift,
  findOfflineCpus,
  findOverlaps,
  findSplitCores,
  nodeReport,
} from "../../core/node_checks.ts";
import { configState, observed } from "../_helpers/config_state.ts";

Deno.test("findOverlaps() names each overlapping pair once, in name order", () => {
  const state = configState({
    a: { lists: { "0-3": [], "8": [] } },
    b: { lists: { "2,9": [], "3,8": [] } },
  });
  assert.deepEqual(findOverlaps(state), [
    "CPU list overlap detected in a:0-3 and b:2,9 (in both: [2])",
    "CPU list overlap detected in a:0-3 and b:3,8 (in both: [3])",
    "CPU list overlap detected in a:8 and b:3,8 (in both: [8])",
  ]);
  assert.deepEqual(
    findOverlaps(configState({ a: { lists: { "0": [] } } })),
    [],
  );
});

Deno.test("findAffinityDrift() words the shared mask comparison", () => {
  const state = configState({ p: { lists: { "2": [7, 8, 9] } } });
  assert.deepEqual(
    findAffinityDrift(state, observed({ 7: "0-3", 8: "2", 9: null })),
    ["Task 7 in p:2 may run on CPUs 0-3, not 2"],
  );
});

Deno.test("findOfflineCpus() names the CPUs of each list that are not online", () => {
  const state = configState({ p: { lists: { "0-1": [], "1,6-7": [] } } });
  assert.deepEqual(findOfflineCpus(state, parseCpuList("0-5")), [
    "CPU list p:1,6-7 names CPUs 6-7 that are offline or absent",
  ]);
  assert.deepEqual(findOfflineCpus(state, parseCpuList("0-7")), []);
});

Deno.test("findSplitCores() flags exclusive lists holding part of a core only", () => {
  // Cores: {0,4} {1,5} {2,6}.
  const cores = [CpuSet.of([0, 4]), CpuSet.of([1, 5]), CpuSet.of([2, 6])];
  const coreOf = (cpu: number) => cores.find((c) => c.has(cpu));
  const state = configState({
    dp: { exclusive: true, lists: { "0,4": [], "1": [], "2,5": [] } },
    shared: { lists: { "6": [] } },
  });
  assert.deepEqual(findSplitCores(state, coreOf), [
    "Exclusive CPU list dp:1 splits physical cores: sibling CPUs 5 are outside it",
    "Exclusive CPU list dp:2,5 splits physical cores: sibling CPUs 1,6 are outside it",
  ]);
});

Deno.test("nodeReport() nests each check's result beside the description and topology", () => {
  assert.deepEqual(
    nodeReport({
      description: null,
      checks: { b: checkResult(["x"]), a: checkResult([]) },
      topology: { source: "record" },
    }),
    {
      checks: {
        b: { errors: ["x"], ok: false },
        a: { errors: [], ok: true },
      },
      description: null,
      topology: { source: "record" },
    },
  );
});
