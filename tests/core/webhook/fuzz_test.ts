/**
 * Fuzzing the webhook's pure core with 10,000 seeded cases: generated pods
 * (every answer well-formed; a patch that applies strictly, wraps what it
 * should, leaves the rest, and is a fixed point) and damaged bodies (no
 * exception, a well-formed answer).
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { reviewAdmission } from "../../../core/webhook/review.ts";
import {
  assertWellFormed,
  decodePatch,
  type Json,
  kcmIsolate,
  review,
  SETTINGS,
} from "../../_helpers/admission.ts";
import {
  damagedBodyArbitrary,
  podArbitrary,
} from "../../_helpers/admission_arbitraries.ts";
import { applyPatch } from "../../_helpers/json_patch.ts";

const SEED = 20261127;
const UID = "705ab4f5-6393-11e8-b7cc-42010a800002";

function asksForCores(container: Json): boolean {
  const has = (m: Json | undefined) =>
    m !== undefined && "kcm.intel.com/dataplane-cores" in m;
  return has(container.resources?.requests) || has(container.resources?.limits);
}

function trim(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, "") : path;
}

Deno.test("reviewAdmission() on 4,000 generated pods: well-formed, applicable, idempotent", () => {
  let patched = 0, denied = 0;
  fc.assert(
    fc.property(podArbitrary, (original) => {
      const answer = reviewAdmission(
        JSON.stringify(review(original)),
        SETTINGS,
      );
      assert.equal(answer.status, 200);
      assertWellFormed(answer.review, UID, 200);
      if (!answer.review.response.allowed) {
        denied++;
        assert.ok([400, 403].includes(answer.review.response.status!.code));
        return;
      }
      const ops = decodePatch(answer.review);
      const after = applyPatch(original, ops) as Json;
      if (ops.length > 0) patched++;
      const optedOut =
        original.metadata.annotations?.["kcm.intel.com/inject"] === "false";
      const anyCores = original.spec.containers.some(asksForCores);
      if (optedOut || !anyCores) assert.deepEqual(ops, []);

      // The fixed point: a second pass has nothing to do.
      const again = reviewAdmission(JSON.stringify(review(after)), SETTINGS);
      assert.deepEqual(again.review.response, { uid: UID, allowed: true });

      // Init containers and foreign fields are never touched.
      assert.deepEqual(after.spec.initContainers, original.spec.initContainers);
      const volumes: Json[] = after.spec.volumes ?? [];
      const names = volumes.map((v) => v.name);
      assert.equal(new Set(names).size, names.length, "volume names clash");
      assert.deepEqual(
        volumes.slice(0, original.spec.volumes?.length ?? 0),
        original.spec.volumes ?? [],
      );

      const others = original.metadata.annotations
        ?.["kcm.intel.com/pool-for-others"];
      after.spec.containers.forEach((c: Json, i: number) => {
        const before = original.spec.containers[i];
        const wanted = optedOut || !anyCores
          ? undefined
          : asksForCores(before)
          ? "dataplane"
          : others;
        if (wanted === undefined) {
          assert.deepEqual(c, before);
          return;
        }
        const wasWrapped = before.command.length >= 2 &&
          before.command[0].endsWith("/kcm") && before.command[1] === "isolate";
        if (wasWrapped) {
          assert.deepEqual(c.command, before.command);
        } else {
          assert.deepEqual(c.command.slice(0, 4), kcmIsolate(wanted));
          assert.equal(c.args, undefined);
          const rest = c.command.slice(4);
          assert.deepEqual(
            rest.filter((w: string) => w !== "--"),
            [...before.command, ...(before.args ?? [])].filter((w) =>
              w !== "--"
            ),
          );
        }
        const env = new Map<string, Json>();
        for (const e of c.env) env.set(e.name, e);
        assert.deepEqual(env.get("KCM_PROC_FS"), {
          name: "KCM_PROC_FS",
          value: "/host/proc",
        });
        const paths = (c.volumeMounts as Json[]).map((m) => trim(m.mountPath));
        assert.equal(new Set(paths).size, paths.length, "mount paths clash");
        for (const path of ["/etc/kcm", "/opt/bin", "/host/proc"]) {
          assert.ok(paths.includes(path), `${path} not mounted`);
        }
        for (
          const m of c.volumeMounts.slice(before.volumeMounts?.length ?? 0)
        ) {
          assert.ok(
            names.includes(m.name),
            `mount of missing volume ${m.name}`,
          );
        }
      });
    }),
    { seed: SEED, numRuns: 4000 },
  );
  // The generator must reach both outcomes often, or the property says little.
  assert.ok(patched > 800, `only ${patched} pods patched`);
  assert.ok(denied > 800, `only ${denied} pods denied`);
});

Deno.test("reviewAdmission() on 6,000 damaged bodies: never throws, always a well-formed answer", () => {
  const statuses = new Map<number, number>();
  fc.assert(
    fc.property(damagedBodyArbitrary, (body) => {
      const answer = reviewAdmission(body, SETTINGS);
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      assert.ok(answer.status === 200 || answer.status === 400);
      let uid = "";
      try {
        const parsed = JSON.parse(body);
        if (typeof parsed?.request?.uid === "string") uid = parsed.request.uid;
      } catch {
        // not JSON: no uid to echo
      }
      assertWellFormed(
        answer.review,
        answer.status === 200 ? uid : "",
        answer.status,
      );
      if (answer.review.response.allowed) {
        applyPatch(JSON.parse(body).request.object, decodePatch(answer.review));
      }
    }),
    { seed: SEED, numRuns: 6000 },
  );
  assert.ok((statuses.get(200) ?? 0) > 1000, JSON.stringify([...statuses]));
  assert.ok((statuses.get(400) ?? 0) > 1000, JSON.stringify([...statuses]));
});
