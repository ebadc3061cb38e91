/**
 * Bodies that are no usable AdmissionReview of a Pod: each answer is a
 * well-formed `admission.k8s.io/v1` denial with a one-line reason, 400 when
 * no uid can be echoed, else 200 with the uid.
 */

import assert from "node:assert/strict";
import {
  assertWellFormed,
  cores,
  type Json,
  pod,
  review,
  SETTINGS,
} from "../../_helpers/admission.ts";
import {
  oversizedAnswer,
  reviewAdmission,
} from "../../../core/webhook/review.ts";

const UID = "705ab4f5-6393-11e8-b7cc-42010a800002";

Deno.test("reviewAdmission() answers 400 with an empty uid to bodies that are no AdmissionReview", () => {
  const cases: [string, RegExp][] = [
    ["", /not valid JSON/],
    ["{", /not valid JSON/],
    ['{"kind": "AdmissionReview", "request": {"uid": "u"', /not valid JSON/],
    ["null", /not an AdmissionReview$/],
    ["[]", /not an AdmissionReview$/],
    ['"AdmissionReview"', /not an AdmissionReview$/],
    ["42", /not an AdmissionReview$/],
    [JSON.stringify(pod([])), /not an AdmissionReview \(kind "Pod"\)/],
    [
      JSON.stringify({
        apiVersion: "admission.k8s.io/v1",
        kind: "AdmissionReview",
      }),
      /has no request/,
    ],
    [
      JSON.stringify({ kind: "AdmissionReview", request: [] }),
      /has no request/,
    ],
    [
      JSON.stringify({ kind: "AdmissionReview", request: { uid: 7 } }),
      /request has no uid/,
    ],
    [
      JSON.stringify({ kind: "AdmissionReview", request: { uid: "" } }),
      /request has no uid/,
    ],
  ];
  for (const [body, expected] of cases) {
    const answer = reviewAdmission(body, SETTINGS);
    assert.equal(answer.status, 400, body);
    assertWellFormed(answer.review, "", 400);
    assert.equal(answer.review.response.status!.code, 400);
    assert.match(answer.review.response.status!.message, expected, body);
  }
});

Deno.test("reviewAdmission() denies, with the uid, reviews it can match but not handle", () => {
  const object = pod([{ name: "c", command: ["/c"], resources: cores(1) }]);
  const cases: [Json, RegExp][] = [
    [
      { ...review(object), apiVersion: "admission.k8s.io/v1beta1" },
      /AdmissionReview version "admission.k8s.io\/v1beta1" is not supported/,
    ],
    [
      { ...review(object), apiVersion: undefined },
      /AdmissionReview version "" is not supported/,
    ],
    [
      review(object, {
        kind: { group: "apps", version: "v1", kind: "Deployment" },
      }),
      /admits core\/v1 Pods only, got "apps\/v1 Deployment"/,
    ],
    [
      review(object, { kind: { group: "", version: "v1", kind: "Service" } }),
      /got "v1 Service"/,
    ],
    [review(object, { kind: undefined }), /request.kind is missing/],
    [review(object, { kind: { kind: "Pod" } }), /request.kind is missing/],
    [
      review(undefined),
      /request.object is not a Pod kcm can read: the pod must be an object/,
    ],
    [review([object]), /the pod must be an object/],
    [review({ metadata: {} }), /spec must be an object/],
    [review({ spec: { containers: {} } }), /spec.containers must be a list/],
    [
      review({ spec: { containers: [7] } }),
      /spec.containers\[0\] must be an object/,
    ],
    [
      review(pod([{ command: ["/c"] }])),
      /spec.containers\[0\].name must be a string/,
    ],
    [
      review(pod([{ name: "c", command: "/c" }])),
      /spec.containers\[0\].command must be a list of strings/,
    ],
    [
      review(pod([{ name: "c", args: ["a", 1] }])),
      /spec.containers\[0\].args must be a list of strings/,
    ],
    [
      review(pod([{ name: "c", env: ["A=1"] }])),
      /spec.containers\[0\].env\[0\] must be an object/,
    ],
    [
      review(pod([{ name: "c", env: [{ name: "A", value: 1 }] }])),
      /spec.containers\[0\].env\[0\].value must be a string/,
    ],
    [
      review(pod([{ name: "c", volumeMounts: [{ name: "v" }] }])),
      /volumeMounts\[0\].mountPath must be a string/,
    ],
    [
      review(pod([{ name: "c", resources: { limits: [] } }])),
      /resources.limits must be an object/,
    ],
    [
      review(
        pod([{ name: "c" }], {
          spec: { volumes: [{ name: "v", hostPath: {} }] },
        }),
      ),
      /spec.volumes\[0\].hostPath.path must be a string/,
    ],
    [
      review(pod([{ name: "c" }], { spec: { tolerations: [{ key: 1 }] } })),
      /spec.tolerations\[0\].key must be a string/,
    ],
    [
      review(pod([{ name: "c" }], { spec: { nodeSelector: { a: 1 } } })),
      /spec.nodeSelector\["a"\] must be a string/,
    ],
    [
      review(
        pod([{ name: "c" }], { metadata: { annotations: { "x\ny": true } } }),
      ),
      /metadata.annotations\["x\\ny"\] must be a string/,
    ],
  ];
  for (const [body, expected] of cases) {
    const answer = reviewAdmission(JSON.stringify(body), SETTINGS);
    assert.equal(answer.status, 200);
    assertWellFormed(answer.review, UID, 200);
    assert.equal(answer.review.response.allowed, false);
    assert.equal(answer.review.response.status!.code, 400);
    assert.match(answer.review.response.status!.message, expected);
  }
});

Deno.test("reviewAdmission() keeps denial messages to one bounded line whatever the input holds", () => {
  const long = "x".repeat(100_000);
  const answer = reviewAdmission(
    JSON.stringify(
      review(pod([{ name: `a\u2028b\r\n${long}`, resources: cores(1) }])),
    ),
    SETTINGS,
  );
  assertWellFormed(answer.review, UID, 200);
  assert.ok(answer.review.response.status!.message.length < 1100);
});

Deno.test("oversizedAnswer() is a 413 denial without uid", () => {
  const answer = oversizedAnswer();
  assert.equal(answer.status, 413);
  assertWellFormed(answer.review, "", 413);
  assert.match(
    answer.review.response.status!.message,
    /larger than 3145728 bytes/,
  );
});
