/**
 * The document level of the topology record (`<conf-dir>/topology.json`,
 * described in core/topology_record.ts): its file name and version, the
 * error for a bad document, and reading its CPU lists and maps. Also the
 * NUMA map alone, which `isolate` reads on its start-up path without
 * building the whole topology. Pure.
 */

import { CpuListSyntaxError, type CpuSet, parseCpuList } from "./cpuset.ts";
import { quote } from "./quote.ts";

/** The record's file name, at the root of the config directory. */
export const TOPOLOGY_FILE = "topology.json";

/** The format version this kcm writes and reads. */
export const TOPOLOGY_RECORD_VERSION = 1;

/** A topology record that is not valid JSON or breaks the format. */
export class TopologyRecordError extends SyntaxError {
  /** Where in the document: `cores[3].cpus`, `numa_nodes`, or `""`. */
  readonly field: string;
  /** What is wrong there. */
  readonly reason: string;

  constructor(field: string, reason: string, options?: ErrorOptions) {
    super(
      `Cannot parse topology record: ${
        field === "" ? "" : `${field}: `
      }${reason}`,
      options,
    );
    this.name = "TopologyRecordError";
    this.field = field;
    this.reason = reason;
  }
}

const ID = /^(0|[1-9][0-9]{0,8})$/;

/** True for a JSON object (not null, not an array). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A CPU list field of the record (`field` names it in errors); with
 * `nonEmpty`, an empty list is an error.
 */
export function readRecordCpus(
  value: unknown,
  field: string,
  nonEmpty: boolean,
): CpuSet {
  if (typeof value !== "string") {
    throw new TopologyRecordError(
      field,
      `${JSON.stringify(value)} is not a CPU list string`,
    );
  }
  let cpus: CpuSet;
  try {
    cpus = parseCpuList(value);
  } catch (error) {
    if (!(error instanceof CpuListSyntaxError)) throw error;
    throw new TopologyRecordError(field, error.message, { cause: error });
  }
  if (nonEmpty && cpus.isEmpty()) {
    throw new TopologyRecordError(field, "the CPU list is empty");
  }
  return cpus;
}

/**
 * Reads a `numa_nodes` or `l3_caches` map into CPU -> id, checking that
 * every CPU appears under one id only and, given `known`, is a known one.
 */
export function readRecordMap(
  document: Record<string, unknown>,
  key: string,
  known?: ReadonlySet<number>,
): Map<number, number> {
  const value = document[key];
  if (!isJsonObject(value)) {
    throw new TopologyRecordError(key, "missing, or not an object");
  }
  const idOf = new Map<number, number>();
  for (const [name, list] of Object.entries(value)) {
    const field = `${key}.${name}`;
    if (!ID.test(name)) {
      throw new TopologyRecordError(field, `${quote(name)} is not an id`);
    }
    for (const cpu of readRecordCpus(list, field, true).toArray()) {
      if (known !== undefined && !known.has(cpu)) {
        throw new TopologyRecordError(field, `CPU ${cpu} is in no core`);
      }
      if (idOf.has(cpu)) {
        throw new TopologyRecordError(
          field,
          `CPU ${cpu} is also under ${quote(idOf.get(cpu))}`,
        );
      }
      idOf.set(cpu, Number(name));
    }
  }
  return idOf;
}

/**
 * The record's JSON object, of a version this kcm reads.
 *
 * @throws {TopologyRecordError} when the text is not a JSON object or the
 * version is not {@linkcode TOPOLOGY_RECORD_VERSION}.
 */
export function parseRecordDocument(text: string): Record<string, unknown> {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new TopologyRecordError(
      "",
      error instanceof Error ? error.message : String(error),
      { cause: error },
    );
  }
  if (!isJsonObject(document)) {
    throw new TopologyRecordError("", "the document is not a JSON object");
  }
  if (document.version !== TOPOLOGY_RECORD_VERSION) {
    throw new TopologyRecordError(
      "version",
      `${JSON.stringify(document.version)} is not a version this kcm ` +
        `reads (${TOPOLOGY_RECORD_VERSION})`,
    );
  }
  return document;
}

/**
 * The NUMA node of each CPU of a record (`numa_nodes` only), without
 * building the whole topology: what `isolate` needs to tell a claim of
 * one list its node, at a fraction of `parseTopologyRecord()`'s
 * start-up cost. Checks the version and the map, not the cores.
 *
 * @throws {TopologyRecordError} as `parseTopologyRecord()`
 * (core/topology_record.ts) does for the document, the version and
 * `numa_nodes`.
 *
 * @example
 * ```ts
 * import { parseRecordNumaNodes } from "./record_document.ts";
 * import assert from "node:assert/strict";
 * const nodes = parseRecordNumaNodes(
 *   '{"version": 1, "numa_nodes": {"0": "0-1", "1": "2"}, "cores": []}',
 * );
 * assert.deepEqual([...nodes], [[0, 0], [1, 0], [2, 1]]);
 * ```
 */
export function parseRecordNumaNodes(text: string): Map<number, number> {
  return readRecordMap(parseRecordDocument(text), "numa_nodes");
}
