/**
 * Reading a failed connection's error text for a TLS certificate problem,
 * so kcm can name it at once instead of retrying and blaming the network.
 * Pure.
 *
 * Deno's `fetch` (rustls underneath) reports a rejected server certificate
 * as `invalid peer certificate: <reason>` in the cause of its `TypeError`:
 * `UnknownIssuer`, `certificate not valid for name "<host>"; ...`,
 * `certificate expired: ... not valid after <unix time> ...` or
 * `certificate not valid yet: ... not valid before <unix time> ...`.
 * A server that answers TLS with plain HTTP shows up as `received corrupt
 * message of type InvalidContentType`. None of these get better by trying
 * again.
 */

import { quote } from "../quote.ts";

/** What is wrong with the server's certificate (or the TLS session). */
export type TlsProblemKind =
  | "unknown-authority"
  | "hostname-mismatch"
  | "expired"
  | "not-yet-valid"
  | "not-tls"
  | "other";

/** A certificate problem, with one line for an operator. */
export interface TlsProblem {
  readonly kind: TlsProblemKind;
  /** E.g. `the API server's certificate expired on 2020-02-01T00:00:00Z`. */
  readonly description: string;
}

function unixDate(text: string | undefined): string | undefined {
  const seconds = Number(text);
  if (text === undefined || !Number.isFinite(seconds)) return undefined;
  return new Date(seconds * 1000).toISOString().replace(/\.000Z$/, "Z");
}

/**
 * The TLS certificate problem a connection error's text names, or
 * undefined when it names none (refused, reset, DNS, timeout: those may
 * pass and are retried).
 *
 * @example
 * ```ts
 * import { tlsProblem } from "./tls_problem.ts";
 * import assert from "node:assert/strict";
 * assert.equal(
 *   tlsProblem("client error (Connect): invalid peer certificate: UnknownIssuer")?.kind,
 *   "unknown-authority",
 * );
 * assert.equal(
 *   tlsProblem(
 *     "invalid peer certificate: certificate expired: verification time 1795928044 (UNIX), " +
 *       "but certificate is not valid after 1580515200 (215412844 seconds ago)",
 *   )?.description,
 *   "the API server's certificate expired on 2020-02-01T00:00:00Z",
 * );
 * assert.equal(tlsProblem("tcp connect error: Connection refused"), undefined);
 * ```
 */
export function tlsProblem(text: string): TlsProblem | undefined {
  if (/InvalidContentType/.test(text)) {
    return {
      kind: "not-tls",
      description:
        "the server does not speak TLS (is it a plain http:// port?)",
    };
  }
  const at = text.indexOf("invalid peer certificate:");
  if (at < 0) return undefined;
  const reason = text.slice(at + "invalid peer certificate:".length).trim();
  if (/^UnknownIssuer/.test(reason)) {
    return {
      kind: "unknown-authority",
      description:
        "the API server's certificate is signed by an unknown authority",
    };
  }
  const name =
    /not valid for name "([^"]*)"(?:; certificate is only valid for (.*))?/
      .exec(reason);
  if (name) {
    return {
      kind: "hostname-mismatch",
      description: `the API server's certificate is not valid for ${
        quote(name[1])
      }${name[2] ? ` (only for ${name[2].trim()})` : ""}`,
    };
  }
  if (/^certificate expired/.test(reason)) {
    const date = unixDate(/not valid after (\d+)/.exec(reason)?.[1]);
    return {
      kind: "expired",
      description: `the API server's certificate expired${
        date ? ` on ${date}` : ""
      }`,
    };
  }
  if (/^certificate not valid yet/.test(reason)) {
    const date = unixDate(/not valid before (\d+)/.exec(reason)?.[1]);
    return {
      kind: "not-yet-valid",
      description: `the API server's certificate is not valid yet${
        date ? ` (from ${date})` : ""
      }: check this machine's clock`,
    };
  }
  return {
    kind: "other",
    description: `the API server's certificate was rejected: ${
      reason.split("\n")[0]
    }`,
  };
}

/** What to do about a {@linkcode TlsProblem} of a server from `source`. */
export function tlsHint(problem: TlsProblem, source: string): string {
  switch (problem.kind) {
    case "unknown-authority":
      return `give the CA that signed the server's certificate as certificate-authority(-data) in ${source}`;
    case "hostname-mismatch":
      return `use a server address the certificate names, or a certificate that names this address (${source})`;
    case "expired":
    case "not-yet-valid":
      return "renew the API server's certificate, or correct the clock of this machine or the server";
    case "not-tls":
      return `check the server URL and port in ${source}`;
    case "other":
      return `check the server certificate and certificate-authority in ${source}`;
  }
}
