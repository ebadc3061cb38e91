/**
 * POSIX path helpers for kcm's own files. `node:path` costs about 5 ms to
 * load, paid by every `kcm isolate` before its workload starts (see
 * bench/README.md), for the four string operations kcm needs. Pure.
 */

/**
 * Joins path pieces with `/`, collapsing repeated slashes. Unlike
 * `node:path`, `.` and `..` are left for the kernel to resolve.
 *
 * @example
 * ```ts
 * import { joinPath } from "./paths.ts";
 * import assert from "node:assert/strict";
 * assert.equal(joinPath("/etc/kcm/", "pools", "infra"), "/etc/kcm/pools/infra");
 * ```
 */
export function joinPath(...pieces: string[]): string {
  return pieces.filter((p) => p !== "").join("/").replace(/\/{2,}/g, "/");
}

function trimTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 1 && path[end - 1] === "/") end--;
  return path.slice(0, end);
}

/** The directory part of a path: `/a/b` -> `/a`, `b` -> `.`, `/a` -> `/`. */
export function dirName(path: string): string {
  const trimmed = trimTrailingSlashes(path);
  const slash = trimmed.lastIndexOf("/");
  if (slash < 0) return ".";
  if (slash === 0) return "/";
  return trimmed.slice(0, slash);
}

/** The last part of a path: `/a/b/` -> `b`. */
export function baseName(path: string): string {
  const trimmed = trimTrailingSlashes(path);
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

/**
 * Normalises a path as Python's `os.path.normpath` does: `.` and empty
 * segments dropped, `..` folded into its parent, no trailing slash.
 *
 * @example
 * ```ts
 * import { normalizePath } from "./paths.ts";
 * import assert from "node:assert/strict";
 * assert.equal(normalizePath("/etc//kcm/./x/../"), "/etc/kcm");
 * assert.equal(normalizePath("../a/.."), "..");
 * ```
 */
export function normalizePath(path: string): string {
  if (path === "") return ".";
  const absolute = path.startsWith("/");
  const parts: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment !== "..") parts.push(segment);
    else if (parts.length > 0 && parts[parts.length - 1] !== "..") parts.pop();
    else if (!absolute) parts.push("..");
  }
  const joined = parts.join("/");
  return absolute ? "/" + joined : joined || ".";
}
