/**
 * planReconcile() on snapshots in memory: which tasks files it rewrites
 * with which pids, and the report it builds, without any process or file.
 */

import assert from "node:assert/strict";
import { planReconcile } from "../../core/reconcile_plan.ts";
import { configState, observed } from "../_helpers/config_state.ts";

Deno.test("planReconcile() rewrites only lists with dead pids, keeping live ones in file order", () => {
  const state = configState({
    a: { exclusive: true, lists: { "0": [200], "1": [101, 201] } },
    b: { lists: { "0-1": [300, 103, 200, 100], "1": [102] } },
  });
  const plan = planReconcile(
    state,
    observed({
      100: "0-1",
      101: "1",
      102: "0-1",
      103: "0-1",
      200: null,
      201: null,
      300: null,
    }),
  );
  assert.deepEqual(plan.rewrites, [
    { pool: "a", list: "0", tasks: [], reclaimed: [200] },
    { pool: "a", list: "1", tasks: [101], reclaimed: [201] },
    { pool: "b", list: "0-1", tasks: [103, 100], reclaimed: [300, 200] },
  ]);
  assert.deepEqual(plan.report, {
    mismatchedCpuMasks: [
      { actualCpus: [0, 1], cpus: "1", pid: 102, pool: "b" },
    ],
    reclaimedCpuLists: [
      { cpus: "0", pid: 200, pool: "a" },
      { cpus: "0-1", pid: 200, pool: "b" },
      { cpus: "1", pid: 201, pool: "a" },
      { cpus: "0-1", pid: 300, pool: "b" },
    ],
  });
});

Deno.test("planReconcile() table", async (t) => {
  const cases: {
    name: string;
    lists: Record<string, number[]>;
    seen: Record<number, string | null>;
    rewrites: { list: string; tasks: number[]; reclaimed: number[] }[];
    mismatched: number[];
  }[] = [
    {
      name: "all alive and pinned: nothing to do",
      lists: { "0": [1], "1": [2] },
      seen: { 1: "0", 2: "1" },
      rewrites: [],
      mismatched: [],
    },
    {
      name: "a dead pid twice in one list: both dropped, both reported",
      lists: { "1": [5, 5] },
      seen: { 5: null },
      rewrites: [{ list: "1", tasks: [], reclaimed: [5, 5] }],
      mismatched: [],
    },
    {
      name: "a live pid on other CPUs is reported, never dropped",
      lists: { "1": [7] },
      seen: { 7: "0-1" },
      rewrites: [],
      mismatched: [7],
    },
    {
      name: "as many CPUs but other ones is a mismatch",
      lists: { "1": [7] },
      seen: { 7: "0" },
      rewrites: [],
      mismatched: [7],
    },
    {
      name: "equal sets in another spelling are no mismatch",
      lists: { "0-1": [7] },
      seen: { 7: "1,0" },
      rewrites: [],
      mismatched: [],
    },
    // A pid nobody observed is left as it is.
    {
      name: "unobserved pids are kept and not reported",
      lists: { "0": [8, 9] },
      seen: { 9: null },
      rewrites: [{ list: "0", tasks: [8], reclaimed: [9] }],
      mismatched: [],
    },
    {
      name: "no tasks at all",
      lists: { "0": [] },
      seen: {},
      rewrites: [],
      mismatched: [],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const plan = planReconcile(
        configState({ p: { lists: c.lists } }),
        observed(c.seen),
      );
      assert.deepEqual(
        plan.rewrites,
        c.rewrites.map((r) => ({ pool: "p", ...r })),
      );
      const report = plan.report as {
        mismatchedCpuMasks: { pid: number }[];
        reclaimedCpuLists: { pid: number }[];
      };
      assert.deepEqual(
        report.mismatchedCpuMasks.map((m) => m.pid),
        c.mismatched,
      );
      assert.deepEqual(
        report.reclaimedCpuLists.map((r) => r.pid),
        c.rewrites.flatMap((r) => r.reclaimed).sort((a, b) => a - b),
      );
    });
  }
});
