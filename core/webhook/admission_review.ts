/**
 * The `admission.k8s.io/v1` AdmissionReview wire format: reading the request
 * the API server posts, and building the response it expects (same
 * apiVersion and kind, `response.uid` echoing `request.uid`, a JSON Patch
 * base64-encoded). Pure.
 *
 * Reference: "Dynamic Admission Control" in the Kubernetes docs
 * (https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#webhook-request-and-response).
 */

import type { PatchOperation } from "./json_patch.ts";

/** The only AdmissionReview version the webhook reads and writes. */
export const ADMISSION_API_VERSION = "admission.k8s.io/v1";

/** The group, version and kind of the object under review. */
export interface GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

/** What the webhook reads of `request`. */
export interface AdmissionRequest {
  readonly uid: string;
  readonly apiVersion: string;
  /** Undefined when `request.kind` is missing or malformed. */
  readonly kind: GroupVersionKind | undefined;
  /** `CREATE`, `UPDATE`, `DELETE`, `CONNECT` (or whatever was sent). */
  readonly operation: string;
  readonly subResource: string;
  readonly namespace: string;
  /** `request.name` (empty for pods named by `generateName`). */
  readonly name: string;
  /** `request.object` as JSON parsed it; undefined when absent. */
  readonly object: unknown;
}

/**
 * A body that is no usable AdmissionReview. With `uid` undefined no
 * response can be matched to a request, and the server answers 400.
 */
export class AdmissionReviewError extends SyntaxError {
  /** `request.uid`, when the body had one. */
  readonly uid: string | undefined;

  constructor(message: string, uid?: string) {
    super(message);
    this.name = "AdmissionReviewError";
    this.uid = uid;
  }
}

/** `response` of an AdmissionReview. */
export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly patchType?: "JSONPatch";
  /** Base64 of the JSON Patch document. */
  readonly patch?: string;
  readonly status?: { readonly code: number; readonly message: string };
}

/** An AdmissionReview as the webhook answers it. */
export interface AdmissionReview {
  readonly apiVersion: typeof ADMISSION_API_VERSION;
  readonly kind: "AdmissionReview";
  readonly response: AdmissionResponse;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function text(object: Json, key: string): string | undefined {
  const value = Object.hasOwn(object, key) ? object[key] : undefined;
  return typeof value === "string" ? value : undefined;
}

/** Replaces line breaks and control characters, and bounds the length. */
export function oneLine(message: string, max = 1000): string {
  // deno-lint-ignore no-control-regex -- control characters are what is removed
  const flat = message.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, " ");
  return flat.length > max ? `${flat.slice(0, max)}...` : flat;
}

/**
 * Reads the body the API server posted. Throws
 * {@linkcode AdmissionReviewError} for anything that is not an
 * AdmissionReview with a `request.uid`; the version, kind and object are
 * returned as found, for the caller to judge with the uid at hand.
 *
 * @example
 * ```ts
 * import { parseAdmissionReview } from "./admission_review.ts";
 * import assert from "node:assert/strict";
 * const request = parseAdmissionReview(JSON.stringify({
 *   apiVersion: "admission.k8s.io/v1",
 *   kind: "AdmissionReview",
 *   request: { uid: "u1", kind: { group: "", version: "v1", kind: "Pod" } },
 * }));
 * assert.equal(request.uid, "u1");
 * assert.throws(() => parseAdmissionReview("{"), /not valid JSON/);
 * ```
 */
export function parseAdmissionReview(body: string): AdmissionRequest {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    throw new AdmissionReviewError(
      `request body is not valid JSON (${(error as Error).message})`,
    );
  }
  if (!isObject(value) || text(value, "kind") !== "AdmissionReview") {
    const kind = isObject(value) ? text(value, "kind") : undefined;
    throw new AdmissionReviewError(
      `request body is not an AdmissionReview${
        kind === undefined ? "" : ` (kind ${JSON.stringify(kind)})`
      }`,
    );
  }
  const request = Object.hasOwn(value, "request") ? value.request : undefined;
  if (!isObject(request)) {
    throw new AdmissionReviewError("AdmissionReview has no request");
  }
  const uid = text(request, "uid");
  if (uid === undefined || uid === "") {
    throw new AdmissionReviewError("AdmissionReview request has no uid");
  }
  const gvk = Object.hasOwn(request, "kind") ? request.kind : undefined;
  let kind: GroupVersionKind | undefined;
  if (isObject(gvk)) {
    const [group, version, name] = [
      text(gvk, "group"),
      text(gvk, "version"),
      text(gvk, "kind"),
    ];
    if (group !== undefined && version !== undefined && name !== undefined) {
      kind = { group, version, kind: name };
    }
  }
  return {
    uid,
    apiVersion: text(value, "apiVersion") ?? "",
    kind,
    operation: text(request, "operation") ?? "",
    subResource: text(request, "subResource") ?? "",
    namespace: text(request, "namespace") ?? "",
    name: text(request, "name") ?? "",
    object: Object.hasOwn(request, "object") ? request.object : undefined,
  };
}

function review(response: AdmissionResponse): AdmissionReview {
  return {
    apiVersion: ADMISSION_API_VERSION,
    kind: "AdmissionReview",
    response,
  };
}

/**
 * An allowing answer; with a non-empty `patch`, the patch goes along as
 * base64 of its UTF-8 JSON.
 *
 * @example
 * ```ts
 * import { allowedReview } from "./admission_review.ts";
 * import assert from "node:assert/strict";
 * const review = allowedReview("u1", [{ op: "remove", path: "/a" }]);
 * assert.equal(review.response.patchType, "JSONPatch");
 * assert.equal(atob(review.response.patch!), '[{"op":"remove","path":"/a"}]');
 * ```
 */
export function allowedReview(
  uid: string,
  patch: readonly PatchOperation[] = [],
): AdmissionReview {
  if (patch.length === 0) return review({ uid, allowed: true });
  const bytes = new TextEncoder().encode(JSON.stringify(patch));
  return review({
    uid,
    allowed: true,
    patchType: "JSONPatch",
    patch: bytes.toBase64(),
  });
}

/** A denying answer; the API server shows `message` to the user, `code` as the HTTP status. */
export function deniedReview(
  uid: string,
  code: number,
  message: string,
): AdmissionReview {
  return review({
    uid,
    allowed: false,
    status: { code, message: oneLine(message) },
  });
}
