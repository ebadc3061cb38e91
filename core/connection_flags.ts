/**
 * The connection options of the commands that talk to the Kubernetes API
 * (`--kubeconfig`, `--context`, `--insecure-http`), checked once at the
 * command boundary and carried typed to the client (k8s/config.ts). Pure,
 * and free of Kubernetes code, so any command's parse may use it.
 */

import type { OptionsOf } from "./cli.ts";
import { UsageError } from "./errors.ts";

/** The connection flags of the commands that talk to the API. */
export interface ConnectionFlags {
  /** `--kubeconfig`: this file only, instead of KUBECONFIG or in-cluster. */
  readonly kubeconfig?: string | undefined;
  /** `--context`: this context instead of the current one. */
  readonly context?: string | undefined;
  /** `--insecure-http`: allow a plain `http://` server. */
  readonly insecureHttp?: boolean | undefined;
}

/** The three options as core/cli.ts types them. */
export type ConnectionOptions = Pick<
  OptionsOf<"discover">,
  "kubeconfig" | "context" | "insecure-http"
>;

/**
 * The connection flags of a parsed command line; a given but empty file
 * or context name is a usage error.
 *
 * @example
 * ```ts
 * import { connectionFlags } from "./connection_flags.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(
 *   connectionFlags({
 *     kubeconfig: undefined,
 *     context: "prod",
 *     "insecure-http": false,
 *   }),
 *   { kubeconfig: undefined, context: "prod", insecureHttp: false },
 * );
 * ```
 */
export function connectionFlags(options: ConnectionOptions): ConnectionFlags {
  const text = (name: "kubeconfig" | "context"): string | undefined => {
    const value = options[name];
    if (value !== undefined && value.trim() === "") {
      throw new UsageError(`--${name} must not be empty`);
    }
    return value;
  };
  return {
    kubeconfig: text("kubeconfig"),
    context: text("context"),
    insecureHttp: options["insecure-http"],
  };
}
