/**
 * The in-process half of benchmark 5: runs `reconcileOnce` or
 * `buildNodeReport` (plus its JSON formatting) back to back, and prints
 * VmHWM, VmRSS and V8's heap (after a forced full GC when run with
 * `--v8-flags=--expose-gc`) after `early` and after `late` runs.
 *
 * Usage: deno run --allow-all bench/memory_in_process.ts
 *   reconcile|node-report <conf-dir> <procfs> <early> <late>
 */

import { buildNodeReport } from "../commands/node_report.ts";
import { reconcileOnce } from "../commands/reconcile.ts";
import { formatJson } from "../core/json.ts";
import { createLogger } from "../core/log.ts";

/** VmHWM and VmRSS of a process, in KiB, from /proc/<pid>/status. */
export function readMemory(pid: number | "self"): { hwm: number; rss: number } {
  const text = Deno.readTextFileSync(`/proc/${pid}/status`);
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN);
  return { hwm: field("VmHWM"), rss: field("VmRSS") };
}

if (import.meta.main) {
  const [what, confDir = "", procRoot = "", early = "10", late = "300"] =
    Deno.args;
  const host = {
    procRoot,
    sysRoot: "/sys",
    lockTimeoutMs: 30_000,
    log: createLogger("INFO", () => {}),
    env: {},
  };
  const samples: Record<string, unknown>[] = [];
  for (let i = 1; i <= Number(late); i++) {
    const report = what === "reconcile"
      ? await reconcileOnce(confDir, host)
      : await buildNodeReport(confDir, host);
    formatJson(report);
    if (i === Number(early) || i === Number(late)) {
      // Run with --v8-flags=--expose-gc: the heap after a full collection
      // is what a leak would grow.
      (globalThis as { gc?: () => void }).gc?.();
      samples.push({
        iterations: i,
        ...readMemory("self"),
        heapUsed: Deno.memoryUsage().heapUsed,
      });
    }
  }
  // deno-lint-ignore no-console
  console.log(JSON.stringify(samples));
}
