/** Placeholder until this subcommand is built. */

import type { Invocation } from "../core/command.ts";
import { KcmError } from "../core/errors.ts";
import type { Host } from "../core/host.ts";

/** Accepts any invocation. */
export function parse(invocation: Invocation): Invocation {
  return invocation;
}

/** Fails: not built yet. */
export function run(_options: Invocation, _host: Host): Promise<number> {
  return Promise.reject(new KcmError("cluster-init: not implemented yet"));
}
