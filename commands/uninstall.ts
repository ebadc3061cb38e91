import type { Invocation } from "../core/command.ts";
import type { Host } from "../core/host.ts";
export function parse(_invocation: Invocation): Record<string, never> {
  return {};
}
export function run(_options: unknown, _host: Host): Promise<number> {
  return Promise.resolve(0);
}
