/**
 * Errors of kcm's Kubernetes client: {@linkcode K8sApiError} for an answer
 * the API server gave (or could not give), {@linkcode K8sConfigError} for a
 * missing or unusable client configuration. Both are `KcmError`s, so
 * `main.ts` prints them as one `kcm: error: ...` line and exits 1.
 */

import { KcmError, type KcmErrorOptions } from "../errors.ts";
import type { TlsProblem } from "./tls_problem.ts";

/** What is known about one failed API request. */
export interface K8sApiErrorInit {
  /** HTTP method, e.g. `PATCH`. */
  readonly method: string;
  /** Request path without the query, e.g. `/api/v1/nodes/n1/status`. */
  readonly path: string;
  /** HTTP status; 0 when no answer arrived (connection failure). */
  readonly status: number;
  /** `reason` of the `Status` body (`Forbidden`, `Conflict`, ...), or "". */
  readonly reason: string;
  /** `message` of the `Status` body, else a short description. */
  readonly detail: string;
  /** The answer's `Retry-After` in seconds, when it had one. */
  readonly retryAfterSeconds?: number | undefined;
  /** The TLS certificate problem that stopped the connection, if one did. */
  readonly tls?: TlsProblem | undefined;
}

/**
 * A Kubernetes API request failed. The message is one line:
 * `<METHOD> <path>: <status> <reason>: <detail>`; for a 403 the detail is
 * the server's own text, which names user, verb and resource
 * (`nodes "n1" is forbidden: User "system:serviceaccount:ns:kcm" cannot
 * patch resource "nodes/status" ...`).
 */
export class K8sApiError extends KcmError {
  /** HTTP method of the failed request. */
  readonly method: string;
  /** Path of the failed request. */
  readonly path: string;
  /** HTTP status, 0 for a connection failure. */
  readonly status: number;
  /** `Status.reason`, or "". */
  readonly reason: string;
  /** `Status.message` (or a description of the connection failure). */
  readonly detail: string;
  /** The answer's `Retry-After` in seconds, or undefined. */
  readonly retryAfterSeconds: number | undefined;
  /** Status 0 because of a TLS certificate problem: which one. */
  readonly tls: TlsProblem | undefined;

  constructor(init: K8sApiErrorInit, options: KcmErrorOptions = {}) {
    const what = init.status === 0
      ? "no answer"
      : `${init.status}${init.reason ? ` ${init.reason}` : ""}`;
    super(`${init.method} ${init.path}: ${what}: ${init.detail}`, 1, options);
    this.method = init.method;
    this.path = init.path;
    this.status = init.status;
    this.reason = init.reason;
    this.detail = init.detail;
    this.retryAfterSeconds = init.retryAfterSeconds;
    this.tls = init.tls;
  }
}

/**
 * True for a {@linkcode K8sApiError} with status `status` (404 NotFound,
 * 409 Conflict, ...): callers test the status, never the message.
 */
export function isStatus(error: unknown, status: number): boolean {
  return error instanceof K8sApiError && error.status === status;
}

/** No usable in-cluster or kubeconfig settings (exit 1). */
export class K8sConfigError extends KcmError {
  constructor(message: string, options: KcmErrorOptions = {}) {
    super(message, 1, options);
  }
}

/**
 * Puts what kcm was doing in front of an API error's message, with the
 * hint given for its status, else the error's own (for a 403, the fix for
 * its cause: RBAC, Pod Security, a missing ServiceAccount, an admission
 * policy; see forbidden.ts). Errors that are not {@linkcode K8sApiError}s
 * are returned unchanged.
 */
export function explainApiError(
  doing: string,
  error: unknown,
  hints: Readonly<Record<number, string>> = {},
): unknown {
  if (!(error instanceof K8sApiError)) return error;
  return new KcmError(`${doing}: ${error.message}`, 1, {
    cause: error,
    hint: hints[error.status] ?? error.hint,
  });
}
