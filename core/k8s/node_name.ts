/**
 * The node kcm acts for and the names of objects derived from it: pure.
 * Node name = `NODE_NAME`, else the host name. Object names follow the
 * Kubernetes DNS-1123 subdomain rule (lowercase alphanumerics, `-` and `.`,
 * starting and ending alphanumeric, at most 253 characters; see "Object
 * Names and IDs" in the Kubernetes docs).
 */

import { KcmError } from "../errors.ts";
import { quote } from "../quote.ts";

const SUBDOMAIN =
  /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** True when `name` is a valid DNS-1123 subdomain (a valid Node name). */
export function isDns1123Subdomain(name: string): boolean {
  return name.length <= 253 && SUBDOMAIN.test(name);
}

/** `NODE_NAME` when set and non-empty, else `hostname()`. */
export function nodeName(
  env: Readonly<Record<string, string>>,
  hostname: () => string,
): string {
  return env.NODE_NAME?.trim() || hostname();
}

/**
 * Turns a node name into a valid object name: lowercase, every character
 * outside `[a-z0-9.-]` becomes `-`, leading and trailing non-alphanumerics
 * are trimmed, at most 253 characters. Throws a `KcmError` when nothing
 * valid is left.
 *
 * @example
 * ```ts
 * import { toObjectName } from "./node_name.ts";
 * import assert from "node:assert/strict";
 * assert.equal(toObjectName("Worker_1"), "worker-1");
 * assert.equal(toObjectName("fe80::1"), "fe80--1");
 * ```
 */
export function toObjectName(name: string): string {
  let result = name.toLowerCase().replace(/[^a-z0-9.-]/g, "-");
  result = result.replace(/\.{2,}/g, ".").replace(/-*\.-*/g, ".");
  result = result.slice(0, 253).replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, "");
  if (!isDns1123Subdomain(result)) {
    throw new KcmError(
      `Cannot make a Kubernetes object name out of node name ${quote(name)}`,
      1,
      { hint: "set NODE_NAME to the Node's name" },
    );
  }
  return result;
}
