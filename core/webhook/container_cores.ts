/**
 * How many dataplane cores a container asks for: the extended resource
 * `kcm.intel.com/dataplane-cores` in its limits (and requests, which must be
 * equal), read as a whole number of cores. Pure.
 */

import { quoteShort } from "../quote.ts";
import { DATAPLANE_CORES } from "./names.ts";
import type { Container } from "./pod.ts";
import { CoreCountError, parseCoreCount } from "./quantity.ts";

/** What a container asks for. */
export type ContainerCores =
  | { readonly kind: "none" }
  | { readonly kind: "cores"; readonly count: number }
  | {
    readonly kind: "invalid";
    /** One line naming the container, what is wrong and how to fix it. */
    readonly message: string;
  };

/**
 * Reads a container's dataplane cores. Kubernetes requires a limit for an
 * extended resource and defaults the request to it; a request alone, a
 * request that differs from the limit, or a value that is not a whole
 * number from 1 to 4096 is `invalid`.
 *
 * @example
 * ```ts
 * import { readContainerCores } from "./container_cores.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(
 *   readContainerCores({
 *     name: "c",
 *     limits: { "kcm.intel.com/dataplane-cores": "2" },
 *   }),
 *   { kind: "cores", count: 2 },
 * );
 * assert.equal(readContainerCores({ name: "c" }).kind, "none");
 * ```
 */
export function readContainerCores(container: Container): ContainerCores {
  const has = (map: Readonly<Record<string, unknown>> | undefined) =>
    map !== undefined && Object.hasOwn(map, DATAPLANE_CORES);
  const where = `container ${quoteShort(container.name)}: ${DATAPLANE_CORES}`;
  const invalid = (message: string): ContainerCores => ({
    kind: "invalid",
    message,
  });
  const read = (value: unknown, what: string): number | ContainerCores => {
    try {
      return parseCoreCount(value);
    } catch (error) {
      if (error instanceof CoreCountError) {
        return invalid(`${where} ${what} ${error.message}`);
      }
      throw error;
    }
  };
  const inRequests = has(container.requests);
  const inLimits = has(container.limits);
  if (!inRequests && !inLimits) return { kind: "none" };
  if (!inLimits) {
    return invalid(
      `${where} is requested without a limit; set limits to the same number (extended resources cannot be overcommitted)`,
    );
  }
  const limit = read(container.limits![DATAPLANE_CORES], "limit");
  if (typeof limit !== "number") return limit;
  if (inRequests) {
    const request = read(container.requests![DATAPLANE_CORES], "request");
    if (typeof request !== "number") return request;
    if (request !== limit) {
      return invalid(
        `${where} request (${request}) differs from its limit (${limit}); set both to the same number`,
      );
    }
  }
  return { kind: "cores", count: limit };
}
