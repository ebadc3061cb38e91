/**
 * What changed between two versions of an object, as lines an operator
 * reads: `containers[reconcile].image: "kcm" -> "kcm:0.3"`. Lists whose
 * items all have a `name` (containers, volumes, env, ports) are compared
 * item by item by name, as server-side apply merges them; other lists and
 * values as a whole. Pure.
 */

/** A JSON-like value as an API answer holds it. */
type Value = unknown;

function isDict(value: Value): value is Record<string, Value> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isNamedList(value: Value): value is Record<string, Value>[] {
  return Array.isArray(value) && value.length > 0 &&
    value.every((item) => isDict(item) && typeof item.name === "string");
}

function show(value: Value): string {
  const text = JSON.stringify(value) ?? "null";
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function walk(before: Value, after: Value, path: string, out: string[]): void {
  if (JSON.stringify(before) === JSON.stringify(after)) return;
  if (before === undefined) {
    out.push(`${path}: added ${show(after)}`);
    return;
  }
  if (after === undefined) {
    out.push(`${path}: removed`);
    return;
  }
  if (isDict(before) && isDict(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])]
      .sort();
    for (const key of keys) walk(before[key], after[key], join(path, key), out);
    return;
  }
  const named = (isNamedList(before) || (Array.isArray(before) &&
    before.length === 0)) &&
    (isNamedList(after) || (Array.isArray(after) && after.length === 0));
  if (named) {
    const old = new Map(
      (before as Record<string, Value>[]).map((i) => [i.name as string, i]),
    );
    const now = new Map(
      (after as Record<string, Value>[]).map((i) => [i.name as string, i]),
    );
    for (const name of new Set([...old.keys(), ...now.keys()])) {
      const item = `${path}[${name}]`;
      if (!old.has(name)) out.push(`${item}: added`);
      else if (!now.has(name)) out.push(`${item}: removed`);
      else walk(old.get(name), now.get(name), item, out);
    }
    return;
  }
  out.push(`${path}: ${show(before)} -> ${show(after)}`);
}

/**
 * The changed paths between `before` and `after`, in key order.
 *
 * @example
 * ```ts
 * import { diffObjects } from "./object_diff.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(
 *   diffObjects(
 *     { containers: [{ name: "a", image: "kcm" }], paused: false },
 *     { containers: [{ name: "a", image: "kcm:2" }, { name: "b" }], paused: false },
 *   ),
 *   ['containers[a].image: "kcm" -> "kcm:2"', "containers[b]: added"],
 * );
 * ```
 */
export function diffObjects(before: Value, after: Value): string[] {
  const out: string[] = [];
  walk(before, after, "", out);
  return out;
}
