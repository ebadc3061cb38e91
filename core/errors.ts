/**
 * The kcm error family: every failure a user can cause or meet carries the
 * exit code kcm ends with and, where useful, a hint on what to do next.
 * `main.ts` prints these as one `kcm: error: ...` line; anything else that
 * escapes is a bug and is shown as an internal error.
 */

import { quote } from "./quote.ts";

/** Options shared by every {@linkcode KcmError}. */
export interface KcmErrorOptions {
  /** The error this one wraps. */
  cause?: unknown;
  /** One sentence on what to do next, printed as `hint: ...`. */
  hint?: string | undefined;
}

/** Base class: a failure with a message meant for the operator. */
export class KcmError extends Error {
  /** Process exit status this error maps to. */
  readonly exitCode: number;
  /** What to do next, if kcm knows. */
  readonly hint: string | undefined;

  constructor(message: string, exitCode = 1, options: KcmErrorOptions = {}) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.hint = options.hint;
  }
}

/** Bad command line: exit 2, and `main.ts` prints the usage section too. */
export class UsageError extends KcmError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** The config directory is missing, malformed or cannot be written. */
export class ConfigError extends KcmError {}

/** The config lock could not be taken within `KCM_LOCK_TIMEOUT`. */
export class LockTimeoutError extends KcmError {}

/** `/proc` (or `KCM_PROC_FS`) could not be read. */
export class ProcfsError extends KcmError {}

/** `/sys` (or `KCM_SYS_FS`) could not be read or made no sense. */
export class SysfsError extends KcmError {}

/** A file could not be replaced; `path` names it, `cause` says why. */
export class FileWriteError extends KcmError {
  /** The file that was to be written. */
  readonly path: string;

  constructor(path: string, cause: unknown) {
    super(`Cannot write ${quote(path)}: ${osErrorReason(cause)}`, 1, { cause });
    this.path = path;
  }
}

/**
 * sched_setaffinity(2) failed, or a mask read back is not the one set.
 * `errno` is the C errno of the failed call (`ESRCH` = 3: the thread is
 * gone), undefined when no call failed.
 */
export class AffinityError extends KcmError {
  /** The errno of the failed call, if one failed. */
  readonly errno: number | undefined;

  constructor(
    message: string,
    errno?: number,
    options: KcmErrorOptions = {},
  ) {
    super(message, 1, options);
    this.errno = errno;
  }
}

/** A pool has no free cpu list, or there are too few cores for a layout. */
export class ResourceError extends KcmError {}

/** A command cannot be run: 126 (not executable) or 127 (not found). */
export class SpawnError extends KcmError {}

/** The message of any thrown value. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The errno name of an operating-system error (`"ENOENT"`, `"EACCES"`), as
 * Deno sets it in the error's `code`; undefined for anything else.
 */
export function osErrorCode(error: unknown): string | undefined {
  if (!(error instanceof Error) || !("code" in error)) return undefined;
  const code = (error as { code: unknown }).code;
  return typeof code === "string" && /^E[A-Z0-9]+$/.test(code)
    ? code
    : undefined;
}

const OS_REASONS: Readonly<Record<string, string>> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOTDIR: "not a directory",
  EISDIR: "is a directory",
  EEXIST: "file exists",
  EROFS: "read-only file system",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  ELOOP: "too many levels of symbolic links",
  ENAMETOOLONG: "file name too long",
  EBUSY: "device or resource busy",
  ETXTBSY: "text file busy",
  EIO: "input/output error",
};

/**
 * The usual wording of an errno name (`"ENOENT"` -> `"no such file or
 * directory"`), or the name itself when kcm has no wording for it.
 */
export function errnoReason(code: string): string {
  return OS_REASONS[code] ?? code;
}

/**
 * A short, lower-case reason for an error, for messages of the form
 * `Cannot read "<file>": <reason>`: the errno's usual wording for OS
 * errors (for an errno not in kcm's table, Deno's wording without its
 * ` (os error N): <call> '<path>'` tail), the message for anything else.
 *
 * @example
 * ```ts
 * import { osErrorReason } from "./errors.ts";
 * import assert from "node:assert/strict";
 * const error = Object.assign(new Error("boom"), { code: "ENOENT" });
 * assert.equal(osErrorReason(error), "no such file or directory");
 * assert.equal(osErrorReason(new Error("boom")), "boom");
 * ```
 */
export function osErrorReason(error: unknown): string {
  const code = osErrorCode(error);
  if (code === undefined) return errorMessage(error);
  const known = OS_REASONS[code];
  if (known !== undefined) return known;
  // "Too many open files (os error 24): open '/x'" -> "too many open files"
  const short = errorMessage(error).replace(/\s*\(os error \d+\)[^]*$/, "");
  return short.charAt(0).toLowerCase() + short.slice(1);
}

/**
 * The reason an aborted signal carries, as an Error (an `AbortError`
 * `DOMException` naming it when the reason is not an Error already).
 */
export function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error
    ? reason
    : new DOMException(`Aborted (${String(reason)})`, "AbortError");
}
