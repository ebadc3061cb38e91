/** The `--interval` loop on a fake clock: every wait recorded, none real. */

import assert from "node:assert/strict";
import { createLogger } from "../../core/log.ts";
import { repeatEvery, STOP_GRACE_MS } from "../../core/repeat.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";

function loopHost() {
  const lines: string[] = [];
  const stop = new AbortController();
  const clock = new FakeClock();
  return {
    lines,
    stop,
    clock,
    host: {
      log: createLogger("INFO", (l) => lines.push(l)),
      clock,
      stopSignal: () => stop.signal,
    },
  };
}

Deno.test("repeatEvery() runs, survives errors and waits the interval", async () => {
  const { host, lines, stop, clock } = loopHost();
  let runs = 0;
  const code = await repeatEvery(5, host, "round", () => {
    runs++;
    if (runs === 2) return Promise.reject(new Error("API down"));
    if (runs === 3) stop.abort("SIGTERM");
    return Promise.resolve();
  });
  assert.equal(code, 0);
  assert.equal(runs, 3);
  assert.deepEqual(clock.sleeps, [5000, 5000]);
  assert.deepEqual(lines, [
    "INFO:root:Waiting 5 seconds until next round...\n",
    "ERROR:root:round failed: API down\n",
    "INFO:root:Waiting 5 seconds until next round...\n",
    "INFO:root:Stopping on SIGTERM\n",
  ]);
});

Deno.test("repeatEvery() ends a wait at once on a signal", async () => {
  const { host, lines, stop, clock } = loopHost();
  clock.onSleep = () => stop.abort("SIGINT");
  let runs = 0;
  await repeatEvery(60, host, "round", () => (runs++, Promise.resolve()));
  assert.equal(runs, 1);
  assert.deepEqual(clock.sleeps, [60_000]);
  assert.equal(lines.at(-1), "INFO:root:Stopping on SIGINT\n");
});

Deno.test("repeatEvery() logs a lasting failure once per change of state", async () => {
  const { host, lines, stop } = loopHost();
  const outcomes: (string | undefined)[] = [
    "EACCES",
    "EACCES",
    "EACCES",
    "ENOENT",
    undefined,
    undefined,
  ];
  let runs = 0;
  await repeatEvery(5, host, "round", () => {
    const code = outcomes[runs++];
    if (runs === outcomes.length) stop.abort("SIGTERM");
    return code === undefined
      ? Promise.resolve()
      : Promise.reject(Object.assign(new Error(`failed ${runs}`), { code }));
  });
  assert.deepEqual(lines.filter((l) => !l.includes("Waiting")), [
    "ERROR:root:round failed: failed 1\n",
    "ERROR:root:round still failing, now: failed 4\n",
    "INFO:root:round works again after 4 failed rounds in 20s\n",
    "INFO:root:Stopping on SIGTERM\n",
  ]);
});

Deno.test("repeatEvery() hands the stop signal to the iteration and leaves a stuck one behind", async () => {
  const { host, lines, stop, clock } = loopHost();
  let seen: AbortSignal | undefined;
  const code = await repeatEvery(5, host, "round", (signal) => {
    seen = signal;
    stop.abort("SIGTERM");
    return new Promise(() => {}); // never ends, even when aborted
  });
  assert.equal(code, 0);
  assert.equal(seen, stop.signal);
  // Only the grace period was waited, not the interval.
  assert.deepEqual(clock.sleeps, [STOP_GRACE_MS]);
  assert.deepEqual(lines, [
    "WARNING:root:The round in progress did not end within 1000 ms of SIGTERM: leaving it behind\n",
    "INFO:root:Stopping on SIGTERM\n",
  ]);
});

// Negative cases.
Deno.test("repeatEvery() with interval 0 runs once and lets errors out", async () => {
  const { host, clock } = loopHost();
  let runs = 0;
  await assert.rejects(
    repeatEvery(0, host, "round", () => {
      runs++;
      return Promise.reject(new Error("boom"));
    }),
    /boom/,
  );
  assert.equal(runs, 1);
  assert.deepEqual(clock.sleeps, []);
});
