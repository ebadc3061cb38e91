import assert from "node:assert/strict";
import {
  decidePublish,
  INITIAL_PUBLISH_STATE,
  type PublishPolicy,
  type PublishReason,
  type PublishState,
  recordPublish,
} from "../../core/publish_policy.ts";
import type { JsonValue } from "../../core/json.ts";

const policy: PublishPolicy = { heartbeatSeconds: 300, jitter: 0 };
const SECOND = 1000;

/** One loop run: what the report is, whether a write would succeed. */
interface Run {
  at: number; // seconds since the start
  report: JsonValue;
  apiUp?: boolean; // default true
  oneShot?: boolean;
}

/** Drives the policy through `runs` and returns each run's reason. */
function simulate(
  runs: readonly Run[],
  options: { policy?: PublishPolicy; random?: () => number } = {},
): { reasons: PublishReason[]; state: PublishState } {
  let state = INITIAL_PUBLISH_STATE;
  const reasons: PublishReason[] = [];
  for (const run of runs) {
    const nowMs = run.at * SECOND;
    const decision = decidePublish(state, run.report, {
      nowMs,
      oneShot: run.oneShot ?? false,
      policy: options.policy ?? policy,
    });
    reasons.push(decision.reason);
    state = recordPublish(state, decision, {
      nowMs,
      ok: run.apiUp ?? true,
      random: options.random?.() ?? 0,
      policy: options.policy ?? policy,
    });
  }
  return { reasons, state };
}

const A = { checks: { taskAffinity: { ok: true, errors: [] } } };
const B = {
  checks: { taskAffinity: { ok: false, errors: ["Task 9 drifted"] } },
};

Deno.test("decidePublish() writes on change and on heartbeat only (table)", () => {
  const every10s = (from: number, to: number, report: JsonValue): Run[] =>
    Array.from(
      { length: (to - from) / 10 + 1 },
      (_, i) => ({ at: from + i * 10, report }),
    );
  const cases: { what: string; runs: Run[]; expected: PublishReason[] }[] = [
    {
      what: "first run publishes, unchanged runs skip",
      runs: every10s(0, 30, A),
      expected: ["first", "unchanged", "unchanged", "unchanged"],
    },
    {
      what: "a change publishes at once, then skips again",
      runs: [...every10s(0, 10, A), ...every10s(20, 40, B)],
      expected: ["first", "unchanged", "changed", "unchanged", "unchanged"],
    },
    {
      what: "change and change back: two writes",
      runs: [{ at: 0, report: A }, { at: 10, report: B }, {
        at: 20,
        report: A,
      }],
      expected: ["first", "changed", "changed"],
    },
    {
      what: "heartbeat due exactly at 300 s after the last write",
      runs: [{ at: 0, report: A }, { at: 290, report: A }, {
        at: 300,
        report: A,
      }, { at: 310, report: A }],
      expected: ["first", "unchanged", "heartbeat", "unchanged"],
    },
    {
      what: "a change resets the heartbeat",
      runs: [{ at: 0, report: A }, { at: 200, report: B }, {
        at: 300,
        report: B,
      }, { at: 500, report: B }],
      expected: ["first", "changed", "unchanged", "heartbeat"],
    },
    {
      what: "key order is not a change",
      runs: [
        { at: 0, report: { a: 1, b: [1, 2] } },
        { at: 10, report: { b: [1, 2], a: 1 } },
        { at: 20, report: { b: [2, 1], a: 1 } },
      ],
      expected: ["first", "unchanged", "changed"],
    },
    {
      what: "outage: every run retries; the first run after it writes at once",
      runs: [
        { at: 0, report: A },
        { at: 10, report: B, apiUp: false },
        { at: 20, report: B, apiUp: false },
        { at: 30, report: A, apiUp: false }, // back to the written content
        { at: 40, report: A }, // API back: written anyway
        { at: 50, report: A },
      ],
      expected: ["first", "changed", "retry", "retry", "retry", "unchanged"],
    },
    {
      what: "a failed first write stays a first write",
      runs: [{ at: 0, report: A, apiUp: false }, { at: 10, report: A }, {
        at: 20,
        report: A,
      }],
      expected: ["first", "first", "unchanged"],
    },
    {
      what: "a failed heartbeat is retried next run",
      runs: [{ at: 0, report: A }, { at: 300, report: A, apiUp: false }, {
        at: 310,
        report: A,
      }, { at: 320, report: A }],
      expected: ["first", "heartbeat", "retry", "unchanged"],
    },
    {
      what: "one-shot runs always publish",
      runs: [{ at: 0, report: A, oneShot: true }, {
        at: 1,
        report: A,
        oneShot: true,
      }],
      expected: ["one-shot", "one-shot"],
    },
  ];
  for (const { what, runs, expected } of cases) {
    assert.deepEqual(simulate(runs).reasons, expected, what);
  }
});

Deno.test("decidePublish() keeps every report younger than heartbeat + interval", () => {
  // 2 hours of 10 s runs, content changing now and then, random jitter.
  let seed = 7;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const runs: Run[] = Array.from({ length: 720 }, (_, i) => ({
    at: i * 10,
    report: Math.floor(i / 97) % 2 === 0 ? A : B,
  }));
  const jittered = { heartbeatSeconds: 300, jitter: 0.1 };
  const { reasons } = simulate(runs, { policy: jittered, random });
  let lastWrite = 0, oldest = 0;
  reasons.forEach((reason, i) => {
    if (reason !== "unchanged") lastWrite = runs[i]!.at;
    oldest = Math.max(oldest, runs[i]!.at - lastWrite);
  });
  assert.ok(oldest < 300 + 10, `oldest report ${oldest} s`);
  const writes = reasons.filter((r) => r !== "unchanged").length;
  // 720 runs; 8 content changes and about 7200 / 285 heartbeats.
  assert.ok(writes >= 20 && writes <= 40, `${writes} writes`);
  assert.ok(reasons.filter((r) => r === "changed").length === 7);
});

Deno.test("recordPublish() jitters the heartbeat down by at most the jitter", () => {
  const decision = decidePublish(INITIAL_PUBLISH_STATE, A, {
    nowMs: 0,
    oneShot: false,
    policy,
  });
  const due = (random: number, jitter?: number) =>
    recordPublish(INITIAL_PUBLISH_STATE, decision, {
      nowMs: 1000,
      ok: true,
      random,
      policy: jitter === undefined
        ? { heartbeatSeconds: 300 }
        : { heartbeatSeconds: 300, jitter },
    }).heartbeatDueMs;
  assert.equal(due(0), 301_000);
  assert.equal(due(0.5), 1000 + 285_000); // default jitter 10 %
  assert.equal(due(0.999, 0), 301_000);
  assert.equal(due(0.5, 2), 1000 + 150_000); // clamped to 1
  // A skipped run and a failure leave the schedule alone.
  const state = recordPublish(INITIAL_PUBLISH_STATE, decision, {
    nowMs: 0,
    ok: true,
    random: 0,
    policy,
  });
  const skipped = decidePublish(state, A, {
    nowMs: 10,
    oneShot: false,
    policy,
  });
  assert.equal(
    recordPublish(state, skipped, { nowMs: 10, ok: false, random: 0, policy }),
    state,
  );
  const failed = recordPublish(state, {
    ...skipped,
    publish: true,
    reason: "heartbeat",
  }, {
    nowMs: 300_000,
    ok: false,
    random: 0,
    policy,
  });
  assert.deepEqual(failed, { ...state, failures: 1 });
});
