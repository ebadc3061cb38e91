/**
 * `kcm describe`: print the config directory as JSON, under a shared lock
 * (without it, saying so, for a user who may not open the lock file).
 */

import type { Invocation } from "../core/command.ts";
import { withConfigLock } from "../core/config_lock.ts";
import { readConfig } from "../core/config_read.ts";
import { describeConfig } from "../core/describe.ts";
import type { Host } from "../core/host.ts";
import { formatJson } from "../core/json.ts";

/** Options of `kcm describe`. */
export interface DescribeOptions {
  readonly confDir: string;
}

/** Validates `describe`'s flags. */
export function parse(invocation: Invocation<"describe">): DescribeOptions {
  return { confDir: invocation.options["conf-dir"] };
}

/** Runs `kcm describe`. */
export async function run(
  options: DescribeOptions,
  host: Host,
): Promise<number> {
  const state = await withConfigLock(
    options.confDir,
    false,
    {
      timeoutMs: host.lockTimeoutMs,
      onUnlocked: (why) => host.log.info(`${why}: reading without the lock`),
    },
    () => readConfig(options.confDir),
  );
  await host.write(formatJson(describeConfig(state)));
  return 0;
}
