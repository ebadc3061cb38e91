/**
 * AdmissionReview requests as the API server sends them, and checks of the
 * answers: the shape every answer must have, the patch decoded and applied.
 */

import assert from "node:assert/strict";
import type { AdmissionReview } from "../../core/webhook/admission_review.ts";
import type { InjectionSettings } from "../../core/webhook/mutate_pod.ts";
import {
  type AdmissionAnswer,
  reviewAdmission,
} from "../../core/webhook/review.ts";
import { applyPatch, type Operation } from "./json_patch.ts";

/** A JSON object (a pod, a review). */
// deno-lint-ignore no-explicit-any
export type Json = Record<string, any>;

/** The settings the tests mutate with. */
export const SETTINGS: InjectionSettings = {
  confDir: "/etc/kcm",
  installDir: "/opt/bin",
};

/** The wrapped command's head for `pool`. */
export function kcmIsolate(pool = "dataplane"): string[] {
  return [
    "/opt/bin/kcm",
    "isolate",
    "--conf-dir=/etc/kcm",
    `--pool=${pool}`,
  ];
}

/** Resources asking for `n` dataplane cores (requests = limits). */
export function cores(n: string | number): Json {
  const q = { "kcm.intel.com/dataplane-cores": String(n) };
  return { requests: { ...q }, limits: { ...q } };
}

/** A pod named `name` with `containers` (and more `spec`/`metadata`). */
export function pod(
  containers: Json[],
  extra: { spec?: Json; metadata?: Json } = {},
): Json {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p", namespace: "default", ...extra.metadata },
    spec: { containers, ...extra.spec },
  };
}

/** An `admission.k8s.io/v1` review of creating `object`. */
export function review(object: unknown, request: Json = {}): Json {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: "705ab4f5-6393-11e8-b7cc-42010a800002",
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      requestKind: { group: "", version: "v1", kind: "Pod" },
      requestResource: { group: "", version: "v1", resource: "pods" },
      name: "p",
      namespace: "default",
      operation: "CREATE",
      userInfo: { username: "admin", groups: ["system:authenticated"] },
      object,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: "meta.k8s.io/v1", kind: "CreateOptions" },
      ...request,
    },
  };
}

/** The patch of an answer, decoded; [] when it has none. */
export function decodePatch(review: AdmissionReview): Operation[] {
  const { patch, patchType } = review.response;
  if (patch === undefined) {
    assert.equal(patchType, undefined);
    return [];
  }
  assert.equal(patchType, "JSONPatch");
  const bytes = Uint8Array.fromBase64(patch);
  return JSON.parse(new TextDecoder().decode(bytes));
}

/**
 * Checks what every answer must be: `admission.k8s.io/v1` AdmissionReview,
 * the uid echoed (empty for unreadable bodies), a denial with a code and a
 * one-line message, an allowed answer with at most a JSON Patch.
 */
export function assertWellFormed(
  review: unknown,
  uid: string,
  status: number,
): asserts review is AdmissionReview {
  const r = review as Json;
  assert.equal(r.apiVersion, "admission.k8s.io/v1");
  assert.equal(r.kind, "AdmissionReview");
  assert.equal(r.response.uid, uid);
  assert.equal(typeof r.response.allowed, "boolean");
  if (status !== 200) assert.equal(r.response.allowed, false);
  if (r.response.allowed) {
    assert.equal(r.response.status, undefined);
    const ops = decodePatch(r as AdmissionReview);
    assert.ok(Array.isArray(ops));
  } else {
    assert.equal(r.response.patch, undefined);
    assert.equal(typeof r.response.status.code, "number");
    const message = r.response.status.message;
    assert.equal(typeof message, "string");
    assert.ok(message.length > 0 && message.length < 1100, message);
    assert.ok(!/[\n\r]/.test(message), `not one line: ${message}`);
  }
}

/** The answer to a review of `object`, and the pod after its patch. */
export function mutate(
  object: Json,
  settings: InjectionSettings = SETTINGS,
  request: Json = {},
): { answer: AdmissionAnswer; ops: Operation[]; after: Json } {
  const body = review(object, request);
  const answer = reviewAdmission(JSON.stringify(body), settings);
  assertWellFormed(answer.review, body.request.uid, answer.status);
  const ops = decodePatch(answer.review);
  return { answer, ops, after: applyPatch(object, ops) as Json };
}

/** The denial message of an answer (fails when it allowed). */
export function denial(answer: AdmissionAnswer): string {
  assert.equal(answer.review.response.allowed, false, answer.summary);
  return answer.review.response.status!.message;
}
