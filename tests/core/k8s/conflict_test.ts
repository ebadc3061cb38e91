import assert from "node:assert/strict";
import { CONFLICT_RETRY, retryOnConflict } from "../../../core/k8s/conflict.ts";
import { K8sApiError } from "../../../core/k8s/errors.ts";
import { createLogger } from "../../../core/log.ts";
import { FakeClock } from "../../_helpers/fake_clock.ts";

function apiError(status: number): K8sApiError {
  return new K8sApiError({
    method: "PUT",
    path: "/p",
    status,
    reason: status === 409 ? "Conflict" : "Other",
    detail: "d",
  });
}

Deno.test("retryOnConflict() reruns the whole attempt on 409", async () => {
  const clock = new FakeClock();
  const lines: string[] = [];
  let n = 0;
  const value = await retryOnConflict(() => {
    n++;
    return n < 3 ? Promise.reject(apiError(409)) : Promise.resolve("done");
  }, {
    clock,
    random: () => 0,
    log: createLogger("DEBUG", (l) => lines.push(l)),
  });
  assert.equal(value, "done");
  assert.equal(n, 3);
  assert.deepEqual(clock.sleeps, [100, 150]);
  assert.deepEqual(lines, [
    "DEBUG:root:Conflict on /p, retrying (1)\n",
    "DEBUG:root:Conflict on /p, retrying (2)\n",
  ]);
});

// Negative cases.
Deno.test("retryOnConflict() gives up after its attempts", async () => {
  const clock = new FakeClock();
  let n = 0;
  const error = await retryOnConflict(
    () => (n++, Promise.reject(apiError(409))),
    { clock },
  ).catch((e) => e);
  assert.ok(error instanceof K8sApiError && error.status === 409);
  assert.equal(n, CONFLICT_RETRY.attempts);
  assert.equal(clock.sleeps.length, CONFLICT_RETRY.attempts - 1);
  assert.ok(clock.sleeps.every((ms) => ms <= CONFLICT_RETRY.maxMs));
});

Deno.test("retryOnConflict() lets any other failure through at once", async () => {
  for (const error of [apiError(404), apiError(422), new Error("other")]) {
    const clock = new FakeClock();
    let n = 0;
    assert.equal(
      await retryOnConflict(() => (n++, Promise.reject(error)), { clock })
        .catch((e) => e),
      error,
    );
    assert.equal(n, 1);
    assert.deepEqual(clock.sleeps, []);
  }
});
