/**
 * A small, strict RFC 6902 JSON Patch applier for tests: `add`, `remove`,
 * `replace`, `test`, `move` and `copy`, failing (like the API server's
 * applier) on a missing parent, an index past the end, a `replace` or
 * `remove` of nothing. The document is copied, never changed in place.
 */

import { isDeepStrictEqual } from "node:util";

/** One operation as JSON holds it. */
export interface Operation {
  op: string;
  path: string;
  value?: unknown;
  from?: string;
}

/** A patch that cannot be applied; `index` is the failing operation. */
export class PatchError extends Error {
  constructor(readonly index: number, message: string) {
    super(`operation ${index}: ${message}`);
    this.name = "PatchError";
  }
}

type Container = Record<string, unknown> | unknown[];

/** The segments of a JSON Pointer (RFC 6901), unescaped. */
export function parsePointer(path: string): string[] {
  if (path === "") return [];
  if (!path.startsWith("/")) throw new Error(`bad pointer "${path}"`);
  return path.slice(1).split("/").map((s) =>
    s.replaceAll("~1", "/").replaceAll("~0", "~")
  );
}

function isContainer(value: unknown): value is Container {
  return typeof value === "object" && value !== null;
}

function arrayIndex(token: string, length: number, forAdd: boolean): number {
  if (forAdd && token === "-") return length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new Error(`bad index "${token}"`);
  const index = Number(token);
  if (index > length || (!forAdd && index === length)) {
    throw new Error(`index ${index} out of bounds (length ${length})`);
  }
  return index;
}

function resolveParent(
  document: unknown,
  segments: string[],
): { parent: Container; token: string } {
  let current = document;
  for (const segment of segments.slice(0, -1)) {
    if (Array.isArray(current)) {
      current = current[arrayIndex(segment, current.length, false)];
    } else if (isContainer(current) && Object.hasOwn(current, segment)) {
      current = (current as Record<string, unknown>)[segment];
    } else {
      throw new Error(`no member "${segment}"`);
    }
  }
  if (!isContainer(current)) {
    throw new Error("parent is not an object or array");
  }
  return { parent: current, token: segments.at(-1)! };
}

function get(document: unknown, path: string): unknown {
  let current = document;
  for (const segment of parsePointer(path)) {
    if (Array.isArray(current)) {
      current = current[arrayIndex(segment, current.length, false)];
    } else if (isContainer(current) && Object.hasOwn(current, segment)) {
      current = (current as Record<string, unknown>)[segment];
    } else {
      throw new Error(`nothing at "${path}"`);
    }
  }
  return current;
}

function add(document: unknown, path: string, value: unknown): unknown {
  const segments = parsePointer(path);
  if (segments.length === 0) return structuredClone(value);
  const { parent, token } = resolveParent(document, segments);
  if (Array.isArray(parent)) {
    parent.splice(
      arrayIndex(token, parent.length, true),
      0,
      structuredClone(value),
    );
  } else {
    Object.defineProperty(parent, token, {
      value: structuredClone(value),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return document;
}

function remove(document: unknown, path: string): unknown {
  const segments = parsePointer(path);
  if (segments.length === 0) {
    throw new Error("cannot remove the whole document");
  }
  const { parent, token } = resolveParent(document, segments);
  if (Array.isArray(parent)) {
    parent.splice(arrayIndex(token, parent.length, false), 1);
  } else {
    if (!Object.hasOwn(parent, token)) throw new Error(`nothing at "${path}"`);
    delete parent[token];
  }
  return document;
}

/** Applies `patch` to a copy of `document`; throws {@linkcode PatchError}. */
export function applyPatch(
  document: unknown,
  patch: readonly Operation[],
): unknown {
  let result = structuredClone(document);
  patch.forEach((operation, index) => {
    try {
      switch (operation.op) {
        case "add":
          if (!("value" in operation)) throw new Error("add without value");
          result = add(result, operation.path, operation.value);
          break;
        case "remove":
          result = remove(result, operation.path);
          break;
        case "replace":
          if (!("value" in operation)) throw new Error("replace without value");
          get(result, operation.path);
          result = add(
            remove(result, operation.path),
            operation.path,
            operation.value,
          );
          break;
        case "test":
          if (
            !isDeepStrictEqual(get(result, operation.path), operation.value)
          ) {
            throw new Error(`test of "${operation.path}" failed`);
          }
          break;
        case "move": {
          const value = get(result, operation.from!);
          result = add(remove(result, operation.from!), operation.path, value);
          break;
        }
        case "copy":
          result = add(result, operation.path, get(result, operation.from!));
          break;
        default:
          throw new Error(`unknown op "${operation.op}"`);
      }
    } catch (error) {
      if (error instanceof PatchError) throw error;
      throw new PatchError(index, (error as Error).message);
    }
  });
  return result;
}
