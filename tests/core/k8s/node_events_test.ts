import assert from "node:assert/strict";
import {
  checkEvents,
  type CheckState,
  NOTE_LIMIT_BYTES,
  reclaimEvents,
  truncateNote,
} from "../../../core/k8s/node_events.ts";

const ok: CheckState = { ok: true, errors: [] };
const failing = (...errors: string[]): CheckState => ({ ok: false, errors });

Deno.test("checkEvents() emits one event per check that changed state", () => {
  const cases: {
    what: string;
    previous: Record<string, CheckState> | undefined;
    current: Record<string, CheckState>;
    expected: [string, string, string][]; // type, reason, note
  }[] = [
    {
      what: "first run, all passing: nothing",
      previous: undefined,
      current: { configDirectory: ok, taskAffinity: ok },
      expected: [],
    },
    {
      what: "first run on a broken node: reported once",
      previous: undefined,
      current: {
        taskAffinity: failing(
          "Task 9 in dataplane:4 may run on CPUs 0-7, not 4",
        ),
      },
      expected: [[
        "Warning",
        "CheckFailed",
        "node-report check taskAffinity failed: Task 9 in dataplane:4 may run on CPUs 0-7, not 4",
      ]],
    },
    {
      what: "ok to failing, two errors joined",
      previous: { exclusiveCores: ok },
      current: {
        exclusiveCores: failing("a:1 splits cores", "a:3 splits cores"),
      },
      expected: [[
        "Warning",
        "CheckFailed",
        "node-report check exclusiveCores failed: a:1 splits cores; a:3 splits cores",
      ]],
    },
    {
      what: "failing back to ok",
      previous: { exclusiveCores: failing("x") },
      current: { exclusiveCores: ok },
      expected: [[
        "Normal",
        "CheckPassed",
        "node-report check exclusiveCores passes again",
      ]],
    },
    {
      what: "still failing, other errors: no new event",
      previous: { taskAffinity: failing("Task 1 ...") },
      current: { taskAffinity: failing("Task 2 ...") },
      expected: [],
    },
    {
      what: "several checks change at once: sorted by check name",
      previous: { b: ok, a: failing("x"), c: ok },
      current: { c: failing("z"), b: ok, a: ok },
      expected: [
        ["Normal", "CheckPassed", "node-report check a passes again"],
        ["Warning", "CheckFailed", "node-report check c failed: z"],
      ],
    },
    {
      what:
        "a new check counts as previously passing; a vanished one says nothing",
      previous: { old: failing("x") },
      current: { added: failing() },
      expected: [[
        "Warning",
        "CheckFailed",
        "node-report check added failed: no detail",
      ]],
    },
  ];
  for (const { what, previous, current, expected } of cases) {
    const events = checkEvents(previous, current);
    assert.deepEqual(
      events.map((e) => [e.type, e.reason, e.note]),
      expected,
      what,
    );
    for (const event of events) assert.equal(event.action, "NodeReport", what);
  }
});

Deno.test("reclaimEvents() names each reclaimed list once, sorted, without pids", () => {
  assert.deepEqual(reclaimEvents([]), []);
  const [event] = reclaimEvents([
    { pool: "infra", cpus: "1", pid: 30 },
    { pool: "dataplane", cpus: "4,12", pid: 10 },
    { pool: "infra", cpus: "1", pid: 31 }, // shared list: two tasks
  ]);
  assert.deepEqual(event, {
    type: "Normal",
    reason: "CpuListsReclaimed",
    action: "Reconcile",
    note: "Reclaimed 2 cpu lists from exited tasks: dataplane:4,12 infra:1",
  });
  assert.equal(
    reclaimEvents([{ pool: "p", cpus: "3", pid: 1 }])[0]!.note,
    "Reclaimed 1 cpu list from exited tasks: p:3",
  );
  // The same lists reclaimed from other pids: the same event (a series).
  assert.deepEqual(
    reclaimEvents([{ pool: "p", cpus: "3", pid: 1 }]),
    reclaimEvents([{ pool: "p", cpus: "3", pid: 2 }]),
  );
});

Deno.test("notes stay within the API server's 1024-byte limit", () => {
  const bytes = (text: string) => new TextEncoder().encode(text).length;
  const errors = Array.from(
    { length: 200 },
    (_, i) => `Task ${i} in p:${i} drifted é`,
  );
  const [failed] = checkEvents(undefined, { taskAffinity: failing(...errors) });
  assert.ok(
    bytes(failed!.note) <= NOTE_LIMIT_BYTES,
    String(bytes(failed!.note)),
  );
  assert.ok(failed!.note.endsWith("..."));
  const claims = Array.from(
    { length: 500 },
    (_, i) => ({ pool: "dataplane", cpus: `${i}`, pid: i }),
  );
  const [reclaimed] = reclaimEvents(claims);
  assert.ok(bytes(reclaimed!.note) <= NOTE_LIMIT_BYTES);
  assert.match(
    reclaimed!.note,
    /^Reclaimed 500 cpu lists from exited tasks: dataplane:0 /,
  );
  // Multi-byte characters are never split.
  assert.equal(truncateNote("éééé", 6), "é...");
  assert.equal(truncateNote("éééé", 7), "éé...");
  assert.equal(truncateNote("ééé", 6), "ééé");
});
