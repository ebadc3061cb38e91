/**
 * One `/mutate` call from body text to answer: read the AdmissionReview,
 * judge what it asks about, plan the pod's mutation, and say which HTTP
 * status and AdmissionReview to send back. Pure; the server only moves
 * bytes.
 *
 * Answers:
 * - 200 + allowed (with or without a patch): a Pod CREATE kcm can handle, or
 *   one it has nothing to do for (opted out, no cores, already done, any
 *   other operation, a subresource);
 * - 200 + denied (`status.code` 400): a review the webhook can match to its
 *   request (it has `request.uid`) but cannot handle: another AdmissionReview
 *   version, another kind than core/v1 Pod, a pod with fields of the wrong
 *   type;
 * - 200 + denied (`status.code` 403): a pod kcm cannot run as asked (no
 *   command, a bad core count, requests differing from limits, ...);
 * - 400 + denied with an empty uid: a body that is no AdmissionReview (not
 *   JSON, not UTF-8, another kind, no request or uid);
 * - 413 + denied with an empty uid: a body over 3 MiB ({@linkcode oversizedAnswer}).
 *
 * Every message is one line.
 */

import {
  ADMISSION_API_VERSION,
  type AdmissionReview,
  AdmissionReviewError,
  allowedReview,
  deniedReview,
  parseAdmissionReview,
} from "./admission_review.ts";
import { type InjectionSettings, planPodMutation } from "./mutate_pod.ts";
import { MAX_BODY_BYTES } from "./names.ts";
import { PodShapeError, readPod } from "./pod.ts";

/** What to send back, and a line for the log. */
export interface AdmissionAnswer {
  /** HTTP status of the answer. */
  readonly status: 200 | 400 | 413;
  readonly review: AdmissionReview;
  /** `namespace/name` of the pod, or what identifies the request. */
  readonly subject: string;
  /** What was decided, one line (the denial message, or what was changed). */
  readonly summary: string;
}

function podName(
  request: { namespace: string; name: string },
  object: unknown,
) {
  let name = request.name;
  if (name === "" && typeof object === "object" && object !== null) {
    const metadata = (object as { metadata?: unknown }).metadata;
    if (typeof metadata === "object" && metadata !== null) {
      const generate = (metadata as { generateName?: unknown }).generateName;
      if (typeof generate === "string") name = `${generate}*`;
    }
  }
  return `${request.namespace || "-"}/${name || "-"}`;
}

/** The answer to a body that cannot be matched to a request. */
export function unreadableAnswer(
  message: string,
  status: 400 | 413 = 400,
): AdmissionAnswer {
  return {
    status,
    review: deniedReview("", status, message),
    subject: "-",
    summary: message,
  };
}

/** The answer to a body over {@linkcode MAX_BODY_BYTES}, sent without reading it. */
export function oversizedAnswer(): AdmissionAnswer {
  return unreadableAnswer(
    `request body is larger than ${MAX_BODY_BYTES} bytes (3 MiB)`,
    413,
  );
}

/**
 * Answers one `/mutate` body (see the module doc for the cases).
 *
 * @example
 * ```ts
 * import { reviewAdmission } from "./review.ts";
 * import assert from "node:assert/strict";
 * const body = JSON.stringify({
 *   apiVersion: "admission.k8s.io/v1",
 *   kind: "AdmissionReview",
 *   request: {
 *     uid: "u1",
 *     kind: { group: "", version: "v1", kind: "Pod" },
 *     operation: "CREATE",
 *     namespace: "default",
 *     object: {
 *       metadata: { name: "p" },
 *       spec: { containers: [{ name: "c", image: "i" }] },
 *     },
 *   },
 * });
 * const answer = reviewAdmission(body, { confDir: "/etc/kcm", installDir: "/opt/bin" });
 * assert.equal(answer.status, 200);
 * assert.deepEqual(answer.review.response, { uid: "u1", allowed: true });
 * ```
 */
export function reviewAdmission(
  body: string,
  settings: InjectionSettings,
): AdmissionAnswer {
  let request;
  try {
    request = parseAdmissionReview(body);
  } catch (error) {
    if (error instanceof AdmissionReviewError) {
      return unreadableAnswer(error.message);
    }
    throw error;
  }
  const { uid } = request;
  const subject = podName(request, request.object);
  const deny = (code: 400 | 403, message: string): AdmissionAnswer => {
    const review = deniedReview(uid, code, message);
    return {
      status: 200,
      review,
      subject,
      summary: review.response.status!.message,
    };
  };
  if (request.apiVersion !== ADMISSION_API_VERSION) {
    return deny(
      400,
      `AdmissionReview version ${
        JSON.stringify(request.apiVersion)
      } is not supported; kcm's webhook speaks ${ADMISSION_API_VERSION} (admissionReviewVersions: [v1])`,
    );
  }
  const kind = request.kind;
  if (kind === undefined) {
    return deny(400, "request.kind is missing or malformed");
  }
  if (kind.group !== "" || kind.version !== "v1" || kind.kind !== "Pod") {
    const gv = kind.group === ""
      ? kind.version
      : `${kind.group}/${kind.version}`;
    return deny(
      400,
      `kcm's webhook admits core/v1 Pods only, got ${
        JSON.stringify(`${gv} ${kind.kind}`)
      }`,
    );
  }
  if (request.operation !== "CREATE" || request.subResource !== "") {
    return {
      status: 200,
      review: allowedReview(uid),
      subject,
      summary: `nothing to do for ${request.operation || "no operation"}${
        request.subResource ? ` of ${request.subResource}` : ""
      }`,
    };
  }
  let pod;
  try {
    pod = readPod(request.object);
  } catch (error) {
    if (error instanceof PodShapeError) {
      return deny(
        400,
        `request.object is not a Pod kcm can read: ${error.message}`,
      );
    }
    throw error;
  }
  const plan = planPodMutation(pod, settings);
  if (plan.kind === "denied") return deny(403, plan.message);
  return {
    status: 200,
    review: allowedReview(uid, plan.patch),
    subject,
    summary: plan.patch.length === 0
      ? "allowed unchanged"
      : `patched (${plan.patch.length} operations; containers: ${
        plan.changed.join(", ") || "none"
      })`,
  };
}
