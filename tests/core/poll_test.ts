/**
 * The waiting policy of core/poll.ts, driven by a fake clock: every wait
 * is recorded, none is real.
 */

import assert from "node:assert/strict";
import { type Backoff, backoffDelay, poll, retry } from "../../core/poll.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";

const DOUBLING: Backoff = { initialMs: 100, factor: 2, maxMs: 1000, jitter: 0 };

/** A probe that answers on call `n` and counts its calls. */
function readyOn(n: number) {
  const probe = (attempt: number) => {
    probe.calls++;
    return Promise.resolve(attempt >= n ? `ready@${attempt}` : undefined);
  };
  probe.calls = 0;
  return probe;
}

Deno.test("backoffDelay() grows by the factor up to the cap", () => {
  const rows: [number, number][] = [[1, 100], [2, 200], [3, 400], [4, 800], [
    5,
    1000,
  ], [30, 1000]];
  for (const [attempt, expected] of rows) {
    assert.equal(
      backoffDelay(DOUBLING, attempt, () => 0),
      expected,
      `${attempt}`,
    );
  }
  const fixed = { initialMs: 5000, factor: 1, maxMs: 5000, jitter: 0 };
  assert.equal(backoffDelay(fixed, 7, Math.random), 5000);
});

Deno.test("backoffDelay() takes the jitter share off at random", () => {
  const jittery = { ...DOUBLING, jitter: 0.5 };
  assert.equal(backoffDelay(jittery, 2, () => 0), 200);
  assert.equal(backoffDelay(jittery, 2, () => 0.5), 150);
  const least = backoffDelay(jittery, 2, () => 0.999999);
  assert.ok(least > 100 && least < 100.001, `${least}`);
  for (let i = 0; i < 200; i++) {
    const delay = backoffDelay(jittery, 3);
    assert.ok(delay > 200 && delay <= 400, `${delay}`);
  }
});

Deno.test("poll() returns the first value, waiting the backoff between tries", async () => {
  const clock = new FakeClock();
  const probe = readyOn(4);
  const outcome = await poll(probe, { clock, backoff: DOUBLING });
  assert.deepEqual(outcome, { done: true, value: "ready@4", attempts: 4 });
  assert.deepEqual(clock.sleeps, [100, 200, 400]);
});

Deno.test("poll() does not wait after a value on the first try", async () => {
  const clock = new FakeClock();
  const outcome = await poll(readyOn(1), { clock, backoff: DOUBLING });
  assert.equal(outcome.done, true);
  assert.deepEqual(clock.sleeps, []);
});

Deno.test("poll() with a random source jitters each wait", async () => {
  const clock = new FakeClock();
  await poll(readyOn(3), {
    clock,
    backoff: { ...DOUBLING, jitter: 0.5 },
    random: () => 0.5,
  });
  assert.deepEqual(clock.sleeps, [75, 150]);
});

// Negative cases: the bounds.
Deno.test("poll() stops after the attempts, without a last wait", async () => {
  const clock = new FakeClock();
  const probe = readyOn(99);
  const outcome = await poll(probe, { clock, backoff: DOUBLING, attempts: 3 });
  assert.deepEqual(outcome, { done: false, stop: "attempts", attempts: 3 });
  assert.equal(probe.calls, 3);
  assert.deepEqual(clock.sleeps, [100, 200]);
});

Deno.test("poll() never waits past the deadline and tries once after it", async () => {
  const clock = new FakeClock(0);
  const probe = readyOn(99);
  const outcome = await poll(probe, {
    clock,
    backoff: DOUBLING,
    deadline: 650,
  });
  // 100 + 200 = 300 elapsed, then 400 would overshoot: 350 instead.
  assert.deepEqual(clock.sleeps, [100, 200, 350]);
  assert.deepEqual(outcome, { done: false, stop: "deadline", attempts: 4 });
  assert.equal(clock.now(), 650);
});

Deno.test("poll() counts the time its probe takes against the deadline", async () => {
  const clock = new FakeClock(0);
  const outcome = await poll((attempt) => {
    clock.advance(300);
    return Promise.resolve(attempt > 10 ? 1 : undefined);
  }, { clock, backoff: DOUBLING, deadline: 500 });
  assert.deepEqual(clock.sleeps, [100]);
  assert.deepEqual(outcome, { done: false, stop: "deadline", attempts: 2 });
});

Deno.test("poll() ends a wait when its signal aborts, and tries no more", async () => {
  const clock = new FakeClock();
  const controller = new AbortController();
  clock.onSleep = () => {
    if (clock.sleeps.length === 2) controller.abort("SIGTERM");
  };
  const probe = readyOn(99);
  const outcome = await poll(probe, {
    clock,
    backoff: DOUBLING,
    signal: controller.signal,
  });
  assert.deepEqual(outcome, { done: false, stop: "aborted", attempts: 2 });
  assert.equal(probe.calls, 2);

  const before = readyOn(1);
  assert.deepEqual(
    await poll(before, { clock, backoff: DOUBLING, signal: controller.signal }),
    { done: false, stop: "aborted", attempts: 0 },
  );
  assert.equal(before.calls, 0, "an aborted signal stops before the first try");
});

Deno.test("poll() lets a probe's error through at once", async () => {
  const clock = new FakeClock();
  let calls = 0;
  await assert.rejects(
    poll(() => {
      calls++;
      return Promise.reject(new Error("broken"));
    }, { clock, backoff: DOUBLING }),
    /broken/,
  );
  assert.equal(calls, 1);
  assert.deepEqual(clock.sleeps, []);
});

class Busy extends Error {
  constructor(readonly afterMs?: number) {
    super("busy");
  }
}

/** An operation failing with `errors` in turn, then answering "ok". */
function failing(...errors: Error[]) {
  const operation = () => {
    const error = errors[operation.calls++];
    return error ? Promise.reject(error) : Promise.resolve("ok");
  };
  operation.calls = 0;
  return operation;
}

const retryBusy = (e: unknown) =>
  e instanceof Busy &&
  (e.afterMs === undefined ? true : { afterMs: e.afterMs });

Deno.test("retry() retries what retryIf accepts, with the backoff", async () => {
  const clock = new FakeClock();
  const operation = failing(new Busy(), new Busy(), new Busy());
  const seen: string[] = [];
  const value = await retry(operation, {
    clock,
    backoff: DOUBLING,
    attempts: 6,
    retryIf: retryBusy,
    onRetry: (e, n, ms) => seen.push(`${(e as Error).message} ${n} ${ms}`),
  });
  assert.equal(value, "ok");
  assert.equal(operation.calls, 4);
  assert.deepEqual(clock.sleeps, [100, 200, 400]);
  assert.deepEqual(seen, ["busy 1 100", "busy 2 200", "busy 3 400"]);
});

Deno.test("retry() waits a server's Retry-After instead, capped", async () => {
  const clock = new FakeClock();
  const operation = failing(new Busy(700), new Busy(60_000), new Busy());
  await retry(operation, {
    clock,
    backoff: DOUBLING,
    attempts: 6,
    retryIf: retryBusy,
  });
  assert.deepEqual(clock.sleeps, [700, 1000, 400]);
});

// Negative cases.
Deno.test("retry() throws a failure retryIf refuses at once", async () => {
  const clock = new FakeClock();
  const operation = failing(new Busy(), new Error("final"));
  await assert.rejects(
    retry(operation, { clock, backoff: DOUBLING, retryIf: retryBusy }),
    /final/,
  );
  assert.equal(operation.calls, 2);
  assert.deepEqual(clock.sleeps, [100]);
});

Deno.test("retry() throws the last failure when the attempts run out", async () => {
  const clock = new FakeClock();
  const last = new Busy();
  const operation = failing(new Busy(), new Busy(), last, new Busy());
  const error = await retry(operation, {
    clock,
    backoff: DOUBLING,
    attempts: 3,
    retryIf: retryBusy,
  }).catch((e) => e);
  assert.equal(error, last);
  assert.equal(operation.calls, 3);
  assert.deepEqual(clock.sleeps, [100, 200]);
});

Deno.test("retry() gives up at the deadline with the last failure", async () => {
  const clock = new FakeClock(0);
  const operation = failing(...Array.from({ length: 20 }, () => new Busy()));
  await assert.rejects(
    retry(operation, {
      clock,
      backoff: DOUBLING,
      deadline: 1000,
      retryIf: retryBusy,
    }),
    Busy,
  );
  assert.deepEqual(clock.sleeps, [100, 200, 400, 300]);
  assert.equal(operation.calls, 5);
});

Deno.test("retry() stops on abort: the last failure, or the abort reason", async () => {
  const clock = new FakeClock();
  const controller = new AbortController();
  clock.onSleep = () => controller.abort(new Error("stopping"));
  const first = new Busy();
  const operation = failing(first, new Busy());
  assert.equal(
    await retry(operation, {
      clock,
      backoff: DOUBLING,
      signal: controller.signal,
      retryIf: retryBusy,
    }).catch((e) => e),
    first,
  );
  assert.equal(operation.calls, 1);
  const untried = failing();
  await assert.rejects(
    retry(untried, {
      clock,
      backoff: DOUBLING,
      signal: controller.signal,
      retryIf: retryBusy,
    }),
    /stopping/,
  );
  assert.equal(untried.calls, 0);
});
