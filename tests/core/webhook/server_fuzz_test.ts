/**
 * 500 seeded bodies (generated pods and damaged bodies) over HTTPS to a
 * real server, 20 at a time: every answer is a well-formed AdmissionReview,
 * never a 5xx, and the server still answers /healthz afterwards.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { assertWellFormed, review } from "../../_helpers/admission.ts";
import {
  damagedBodyArbitrary,
  podArbitrary,
} from "../../_helpers/admission_arbitraries.ts";
import { startTestWebhook } from "../../_helpers/webhook_server.ts";

const SEED = 20261128;

Deno.test("POST /mutate with 500 fuzzed bodies over HTTPS: always a well-formed answer", async () => {
  await using webhook = await startTestWebhook();
  const bodies = [
    ...fc.sample(podArbitrary, { seed: SEED, numRuns: 200 }).map((p) =>
      JSON.stringify(review(p))
    ),
    ...fc.sample(damagedBodyArbitrary, { seed: SEED, numRuns: 300 }),
  ];
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async () => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      const answer = await webhook.post(body);
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      assert.ok(answer.status === 200 || answer.status === 400, body);
      let uid = "";
      if (answer.status === 200) {
        uid = JSON.parse(body).request.uid;
        if (typeof uid !== "string") assert.fail(body);
      }
      assertWellFormed(answer.body, uid, answer.status);
    }
  };
  await Promise.all(Array.from({ length: 20 }, worker));
  assert.equal([...statuses.values()].reduce((a, b) => a + b), 500);
  assert.ok((statuses.get(200) ?? 0) > 200, JSON.stringify([...statuses]));
  assert.ok((statuses.get(400) ?? 0) > 50, JSON.stringify([...statuses]));
  const health = await fetch(`${webhook.url}/healthz`, {
    client: webhook.client,
  });
  assert.equal(health.status, 200);
  await health.body?.cancel();
  assert.ok(
    !webhook.logs.some((l) => l.startsWith("ERROR")),
    webhook.logs.join("\n"),
  );
});
