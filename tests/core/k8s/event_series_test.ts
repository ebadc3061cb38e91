import assert from "node:assert/strict";
import {
  CLIENT_GO_SERIES,
  EVENT_NAMESPACE,
  type EventPatch,
  EventSeriesRecorder,
  type EventWrite,
  formatMicroTime,
  reportingInstanceFor,
} from "../../../core/k8s/event_series.ts";
import type { NodeEvent } from "../../../core/k8s/node_events.ts";
import { createNode, startControlPlane } from "../../k8s/testenv.ts";

const T0 = Date.parse("2026-11-29T10:00:00Z");
const at = (ms: number) => new Date(T0 + ms);
const SECOND = 1000, MINUTE = 60 * SECOND;

const reclaimed: NodeEvent = {
  type: "Normal",
  reason: "CpuListsReclaimed",
  action: "Reconcile",
  note: "Reclaimed 1 cpu list from exited tasks: dataplane:4",
};
const otherLists: NodeEvent = {
  ...reclaimed,
  note: "Reclaimed 1 cpu list from exited tasks: infra:1",
};

function recorder(uid?: string): EventSeriesRecorder {
  return new EventSeriesRecorder({
    node: uid === undefined ? { name: "node-1" } : { name: "node-1", uid },
    reportingInstance: reportingInstanceFor("node-1"),
  });
}

/** `verb name count` per write, for compact expectations. */
function brief(writes: readonly EventWrite[]): string[] {
  return writes.map((w) =>
    w.verb === "create"
      ? `create ${w.event.metadata.name}`
      : `patch ${w.name} ${w.patch.series.count} ${w.patch.series.lastObservedTime}`
  );
}

Deno.test("EventSeriesRecorder creates an event, then patches it into a series", () => {
  const r = recorder("uid-1");
  const [create] = r.record([reclaimed], at(0));
  assert.deepEqual(create, {
    verb: "create",
    event: {
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: {
        name: `node-1.${(BigInt(T0) * 1_000_000n).toString(16)}`,
        namespace: "default",
      },
      eventTime: "2026-11-29T10:00:00.000000Z",
      type: "Normal",
      reason: "CpuListsReclaimed",
      action: "Reconcile",
      note: "Reclaimed 1 cpu list from exited tasks: dataplane:4",
      reportingController: "kcm.intel.com/kcm",
      reportingInstance: "kcm.intel.com/kcm-node-1",
      regarding: {
        apiVersion: "v1",
        kind: "Node",
        name: "node-1",
        uid: "uid-1",
      },
    },
  });
  const name = create!.verb === "create" ? create!.event.metadata.name : "";
  const [patch] = r.record([reclaimed], at(10 * SECOND)) as EventPatch[];
  assert.deepEqual(patch, {
    verb: "patch",
    name,
    namespace: "default",
    patch: {
      series: { count: 2, lastObservedTime: "2026-11-29T10:00:10.000000Z" },
    },
    fallback: {
      ...(create as { event: object }).event,
      series: { count: 2, lastObservedTime: "2026-11-29T10:00:10.000000Z" },
    },
  });
});

Deno.test("EventSeriesRecorder writes like client-go over time (table)", () => {
  const name = (ms: number, seq = 0) =>
    `node-1.${(BigInt(T0 + ms) * 1_000_000n + BigInt(seq)).toString(16)}`;
  const cases: {
    what: string;
    steps: [number, "record" | "tick", NodeEvent[], string[]][];
    size: number;
  }[] = [
    {
      what: "a singleton is forgotten after 6 minutes; the next one is new",
      steps: [
        [0, "record", [reclaimed], [`create ${name(0)}`]],
        [5 * MINUTE, "tick", [], []],
        [6 * MINUTE + 1, "tick", [], []],
        [7 * MINUTE, "record", [reclaimed], [`create ${name(7 * MINUTE, 1)}`]],
      ],
      size: 1,
    },
    {
      what:
        "repeats every 10 s for 2 minutes: count 2 at once, final count when it ends",
      steps: [
        [0, "record", [reclaimed], [`create ${name(0)}`]],
        [10 * SECOND, "record", [reclaimed], [
          `patch ${name(0)} 2 2026-11-29T10:00:10.000000Z`,
        ]],
        ...Array.from(
          { length: 11 },
          (_, i) =>
            [(i + 2) * 10 * SECOND, "record", [reclaimed], []] as [
              number,
              "record",
              NodeEvent[],
              string[],
            ],
        ),
        [2 * MINUTE + 6 * MINUTE, "tick", [], []], // exactly 6 min: not over yet
        [2 * MINUTE + 6 * MINUTE + 1, "tick", [], [
          `patch ${name(0)} 13 2026-11-29T10:02:00.000000Z`,
        ]],
        [9 * MINUTE, "tick", [], []],
      ],
      size: 0,
    },
    {
      what: "a series that goes on is written every 30 minutes",
      steps: [
        [0, "record", [reclaimed], [`create ${name(0)}`]],
        [1 * MINUTE, "record", [reclaimed], [
          `patch ${name(0)} 2 2026-11-29T10:01:00.000000Z`,
        ]],
        ...[5, 10, 15, 20, 25, 30].map((m) =>
          [m * MINUTE, "record", [reclaimed], []] as [
            number,
            "record",
            NodeEvent[],
            string[],
          ]
        ),
        [31 * MINUTE, "record", [reclaimed], [
          `patch ${name(0)} 9 2026-11-29T10:31:00.000000Z`,
        ]],
        [35 * MINUTE, "record", [reclaimed], []],
      ],
      size: 1,
    },
    {
      what: "a series whose count was written is forgotten without a write",
      steps: [
        [0, "record", [reclaimed], [`create ${name(0)}`]],
        [10 * SECOND, "record", [reclaimed], [
          `patch ${name(0)} 2 2026-11-29T10:00:10.000000Z`,
        ]],
        [7 * MINUTE, "tick", [], []],
      ],
      size: 0,
    },
    {
      what:
        "different notes are different events; two in one run get distinct names",
      steps: [
        [0, "record", [reclaimed, otherLists], [
          `create ${name(0)}`,
          `create ${name(0, 1)}`,
        ]],
        [10 * SECOND, "record", [otherLists], [
          `patch ${name(0, 1)} 2 2026-11-29T10:00:10.000000Z`,
        ]],
      ],
      size: 2,
    },
    {
      what: "an ended series is written and forgotten before a new occurrence",
      steps: [
        [0, "record", [reclaimed], [`create ${name(0)}`]],
        [10 * SECOND, "record", [reclaimed], [
          `patch ${name(0)} 2 2026-11-29T10:00:10.000000Z`,
        ]],
        [20 * SECOND, "record", [reclaimed], []],
        [10 * MINUTE, "record", [reclaimed], [
          `patch ${name(0)} 3 2026-11-29T10:00:20.000000Z`,
          `create ${name(10 * MINUTE, 1)}`,
        ]],
      ],
      size: 1,
    },
  ];
  for (const { what, steps, size } of cases) {
    const r = recorder();
    for (const [ms, op, events, expected] of steps) {
      const writes = op === "record"
        ? r.record(events, at(ms))
        : r.tick(at(ms));
      assert.deepEqual(brief(writes), expected, `${what}, at +${ms} ms`);
    }
    assert.equal(r.size, size, what);
  }
});

Deno.test("EventSeriesRecorder.failed() forgets a failed create and rewrites a failed patch", () => {
  const r = recorder();
  const [create] = r.record([reclaimed], at(0));
  r.failed(create!);
  assert.equal(r.size, 0);
  assert.equal(r.record([reclaimed], at(SECOND))[0]!.verb, "create");
  const [patch] = r.record([reclaimed], at(2 * SECOND));
  assert.equal(patch!.verb, "patch");
  r.failed(patch!);
  // The count (2) was never stored: the end of the series writes it.
  assert.deepEqual(
    brief(r.tick(at(2 * SECOND + CLIENT_GO_SERIES.finishAfterMs + 1))),
    [`patch ${(patch as EventPatch).name} 2 2026-11-29T10:00:02.000000Z`],
  );
});

Deno.test("formatMicroTime() writes six fraction digits", () => {
  assert.equal(
    formatMicroTime(new Date("2026-01-02T03:04:05.678Z")),
    "2026-01-02T03:04:05.678000Z",
  );
  assert.equal(reportingInstanceFor("n".repeat(200)).length, 128);
});

Deno.test("the API server takes kcm's Event writes and shows them on the Node", async (t) => {
  await using cp = await startControlPlane();
  const node = await createNode(cp, "node-1");
  const r = recorder(node.metadata.uid);
  const events = `/apis/events.k8s.io/v1/namespaces/${EVENT_NAMESPACE}/events`;
  const perform = async (write: EventWrite) => {
    if (write.verb === "create") {
      return await cp.api("POST", events, write.event);
    }
    const patched = await cp.api(
      "PATCH",
      `${events}/${write.name}`,
      write.patch,
      {
        contentType: "application/merge-patch+json",
      },
    );
    return patched.status === 404
      ? await cp.api("POST", events, write.fallback)
      : patched;
  };
  const now = Date.now();
  const [create] = r.record([reclaimed], new Date(now));
  const name = create!.verb === "create" ? create!.event.metadata.name : "";

  await t.step("the first occurrence creates a valid Event", async () => {
    const created = await perform(create!);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.series, undefined);
    assert.equal(created.body.regarding.uid, node.metadata.uid);
  });

  await t.step("the second patches its series", async () => {
    const [patch] = r.record([reclaimed], new Date(now + 10_000));
    const patched = await perform(patch!);
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.series.count, 2);
    assert.equal(
      patched.body.series.lastObservedTime,
      formatMicroTime(new Date(now + 10_000)),
    );
    assert.equal(patched.body.note, reclaimed.note);
  });

  await t.step(
    "kubectl describe node finds it (core/v1 view, any namespace)",
    async () => {
      const { status, body } = await cp.api(
        "GET",
        `/api/v1/events?fieldSelector=${
          encodeURIComponent(
            "involvedObject.kind=Node,involvedObject.name=node-1",
          )
        }`,
      );
      assert.equal(status, 200);
      const found = body.items.find((e: { metadata: { name: string } }) =>
        e.metadata.name === name
      );
      assert.ok(
        found,
        JSON.stringify(
          body.items.map((e: { metadata: { name: string } }) =>
            e.metadata.name
          ),
        ),
      );
      assert.equal(found.reason, "CpuListsReclaimed");
      assert.equal(found.message, reclaimed.note);
      assert.equal(found.type, "Normal");
      assert.equal(found.reportingComponent, "kcm.intel.com/kcm");
    },
  );

  await t.step(
    "an expired Event is created again from the patch's fallback",
    async () => {
      assert.equal((await cp.api("DELETE", `${events}/${name}`)).status, 200);
      r.record([reclaimed], new Date(now + 20_000));
      const [final] = r.tick(
        new Date(now + 20_000 + CLIENT_GO_SERIES.finishAfterMs + 1),
      );
      assert.equal(final!.verb, "patch");
      const written = await perform(final!);
      assert.equal(written.status, 201, JSON.stringify(written.body));
      assert.equal(written.body.metadata.name, name);
      assert.equal(written.body.series.count, 3);
    },
  );

  await t.step(
    "an Event about a Node is refused outside default and kube-system",
    async () => {
      const [other] = r.record([otherLists], new Date(now + 30_000));
      const event = other!.verb === "create" ? other!.event : undefined;
      await cp.api("POST", "/api/v1/namespaces", {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: "kcm" },
      });
      const refused = await cp.api(
        "POST",
        "/apis/events.k8s.io/v1/namespaces/kcm/events",
        {
          ...event,
          metadata: { ...event!.metadata, namespace: "kcm" },
        },
      );
      assert.equal(refused.status, 422);
      assert.match(refused.body.message, /does not match event\.namespace/);
    },
  );
});
