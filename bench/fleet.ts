// deno-lint-ignore-file no-console
/**
 * Fleet simulation (issue 16): N node agents, each with its own node name,
 * Node object, config directory and ServiceAccount token, run kcm's
 * publish loop in this process against the real etcd + kube-apiserver of
 * the test environment, for `--duration` seconds per behaviour, while 1 %
 * of the nodes change state per interval. The behaviours:
 *
 * - `always-old`: kcm before publish-on-change, request for request
 *   (fleet_legacy.ts: CRD GET, POST, 409, GET, PUT every interval);
 * - `always`: the new loop step with a heartbeat of 0, so it writes every
 *   interval (one PUT): the write policy alone, without the new writer;
 * - `on-change`: the new loop step as shipped (`--heartbeat`, default
 *   300 s), from a steady state where each report was last written at a
 *   moment spread over the last heartbeat.
 *
 * Prints, per behaviour: apiserver write requests/s on kcm's reports and
 * in all (`apiserver_request_total`), reads/s, etcd database growth
 * (`etcd_mvcc_db_total_size_in_bytes`), p50/p99 latency of a publication,
 * apiserver CPU and RSS (procfs of the process the test environment
 * started), and the oldest report at the end (read back from the API).
 *
 * Not a test and not part of `deno task bench` (it needs the test
 * binaries and minutes):
 *
 *     deno run --allow-all bench/fleet.ts --nodes=1000 --duration=60
 *
 * Flags: `--nodes` (100), `--duration` seconds per behaviour (60),
 * `--interval` (10), `--heartbeat` (300), `--change` fraction of nodes
 * changing per interval (0.01), `--only=always-old,always,on-change`.
 */

import { parseArgs } from "node:util";
import type { PublishPolicy } from "../core/publish_policy.ts";
import {
  type ControlPlane,
  processUsage,
  startControlPlane,
} from "../tests/k8s/testenv.ts";
import {
  type Agent,
  agentErrors,
  type Behaviour,
  createAgents,
  FLEET_NAMESPACE,
  type LoopStats,
  type PublishFn,
  publishTheOldWayStep,
  publishWithLoopStep,
  runAgentLoop,
  steadyPublishStates,
  toggleState,
  useBehaviour,
} from "./fleet_agents.ts";
import { delta, snapshot } from "./fleet_probes.ts";
import { formatMs, percentile } from "./measure.ts";

/** The publish step of each behaviour: the new loop step, or the old way. */
const PUBLISH: Readonly<Record<Behaviour, PublishFn>> = {
  "always-old": publishTheOldWayStep,
  "always": publishWithLoopStep,
  "on-change": publishWithLoopStep,
};

const BEHAVIOURS: readonly Behaviour[] = ["always-old", "always", "on-change"];

const LABELS: Readonly<Record<Behaviour, string>> = {
  "always-old": "always publish, old writer (before)",
  "always": "always publish, new writer (--heartbeat=0)",
  "on-change": "publish on change (after)",
};

interface Flags {
  nodes: number;
  duration: number;
  interval: number;
  heartbeat: number;
  change: number;
  modes: Behaviour[];
}

function parseFlags(args: string[]): Flags {
  const { values } = parseArgs({
    args,
    options: {
      nodes: { type: "string", default: "100" },
      duration: { type: "string", default: "60" },
      interval: { type: "string", default: "10" },
      heartbeat: { type: "string", default: "300" },
      change: { type: "string", default: "0.01" },
      only: { type: "string" },
    },
    strict: true,
  });
  const number = (name: string, text: string, min: number) => {
    const value = Number(text);
    if (!Number.isFinite(value) || value < min) {
      throw new Error(`--${name} must be a number >= ${min}, got "${text}"`);
    }
    return value;
  };
  const only = values.only?.split(",");
  for (const mode of only ?? []) {
    if (!(BEHAVIOURS as readonly string[]).includes(mode)) {
      throw new Error(
        `--only takes ${BEHAVIOURS.join(", ")}, got "${values.only}"`,
      );
    }
  }
  return {
    nodes: Math.floor(number("nodes", values.nodes, 1)),
    duration: number("duration", values.duration, 1),
    interval: number("interval", values.interval, 1),
    heartbeat: number("heartbeat", values.heartbeat, 1),
    change: number("change", values.change, 0),
    modes: only === undefined ? [...BEHAVIOURS] : only as Behaviour[],
  };
}

/** Every interval, flips the state of `fraction` of the agents (at least one). */
async function changeStates(
  agents: readonly Agent[],
  fraction: number,
  intervalMs: number,
  untilMs: number,
): Promise<number> {
  let changes = 0;
  while (performance.now() + intervalMs <= untilMs) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    const count = fraction === 0
      ? 0
      : Math.max(1, Math.round(agents.length * fraction));
    for (let i = 0; i < count; i++) {
      await toggleState(agents[Math.floor(Math.random() * agents.length)]!);
      changes++;
    }
  }
  return changes;
}

const MIB = 1024 * 1024;

/** Seconds since the oldest `last_updated` of the fleet's NodeReports. */
async function oldestReport(cp: ControlPlane, nowMs: number): Promise<number> {
  const { status, body } = await cp.api(
    "GET",
    `/apis/kcm.intel.com/v1/namespaces/${FLEET_NAMESPACE}/nodereports`,
  );
  if (status !== 200) throw new Error(`LIST nodereports: HTTP ${status}`);
  const times = (body.items as { last_updated: string }[]).map((o) =>
    Date.parse(o.last_updated)
  );
  return (nowMs - Math.min(...times)) / 1000;
}

async function run(): Promise<number> {
  let flags: Flags;
  try {
    flags = parseFlags(Deno.args);
  } catch (error) {
    console.error(`bench/fleet.ts: ${(error as Error).message}`);
    return 2;
  }
  const policy: PublishPolicy = { heartbeatSeconds: flags.heartbeat };
  const started = performance.now();
  await using cp = await startControlPlane();
  const root = await Deno.makeTempDir({ prefix: "kcm-fleet-" });
  const stop = new AbortController();
  try {
    const agents = await createAgents(cp, root, flags.nodes, stop.signal);
    console.log(
      `# fleet: ${flags.nodes} agents, --interval=${flags.interval}, ` +
        `--heartbeat=${flags.heartbeat}, ${flags.change * 100} % change per ` +
        `interval, ${flags.duration} s per behaviour; control plane and ` +
        `agents ready in ${
          ((performance.now() - started) / 1000).toFixed(1)
        } s`,
    );
    // Every report exists before measuring, as in a running fleet.
    const warm: LoopStats = {
      latenciesMs: [],
      published: 0,
      failed: 0,
      skipped: 0,
    };
    useBehaviour(agents, "always", {
      intervalSeconds: flags.interval,
      heartbeatSeconds: flags.heartbeat,
    });
    await Promise.all(agents.map((agent) =>
      runAgentLoop(agent, {
        intervalSeconds: flags.interval,
        publish: PUBLISH.always,
        untilMs: performance.now() + flags.interval * 1000,
        stats: warm,
      })
    ));
    if (warm.failed > 0) {
      throw new Error(
        `warm-up: ${warm.failed} publishes failed: ${
          warm.firstError ?? agentErrors[0]
        }`,
      );
    }

    const rows: string[] = [];
    const writes: Partial<Record<Behaviour, number>> = {};
    for (const mode of flags.modes) {
      useBehaviour(agents, mode, {
        intervalSeconds: flags.interval,
        heartbeatSeconds: flags.heartbeat,
      });
      if (mode === "on-change") {
        await steadyPublishStates(agents, policy, Date.now());
      }
      const stats: LoopStats = {
        latenciesMs: [],
        published: 0,
        failed: 0,
        skipped: 0,
      };
      const before = await snapshot(cp);
      const clientBefore = await processUsage(Deno.pid);
      let peakRss = before.apiserverRssBytes;
      const untilMs = performance.now() + flags.duration * 1000;
      const sampler = setInterval(async () => {
        const { rssBytes } = await processUsage(cp.pids.apiserver);
        peakRss = Math.max(peakRss, rssBytes);
      }, 5000);
      const [changes] = await Promise.all([
        changeStates(agents, flags.change, flags.interval * 1000, untilMs),
        ...agents.map((agent) =>
          runAgentLoop(agent, {
            intervalSeconds: flags.interval,
            publish: PUBLISH[mode],
            untilMs,
            stats,
          })
        ),
      ]);
      clearInterval(sampler);
      const after = await snapshot(cp);
      const clientAfter = await processUsage(Deno.pid);
      peakRss = Math.max(peakRss, after.apiserverRssBytes);
      const d = delta(before, after);
      const clientCores = (clientAfter.cpuSeconds - clientBefore.cpuSeconds) /
        d.seconds;
      // How old the reports are as the API server holds them, and, for
      // publish on change, by each loop's own account (its steady state
      // began with writes spread over the last heartbeat, which the
      // objects written by the warm-up cannot show).
      const now = Date.now();
      const oldestStored = await oldestReport(cp, now);
      let oldest = `${oldestStored.toFixed(0)} s`;
      if (mode === "on-change") {
        const loopOldest = Math.max(
          ...agents.map((a) => now - (a.publisher.state.lastSuccessMs ?? 0)),
        ) / 1000;
        oldest += ` (loop's own account: ${loopOldest.toFixed(0)} s)`;
      }
      writes[mode] = d.reportWritesPerSecond;
      rows.push(
        `| ${LABELS[mode]} | ${
          [
            `${stats.published} (${stats.failed} failed, ${stats.skipped} skipped)`,
            changes,
            d.reportWritesPerSecond.toFixed(1),
            d.reportWritesOkPerSecond.toFixed(1),
            d.writesPerSecond.toFixed(1),
            d.readsPerSecond.toFixed(1),
            `${(d.etcdDbGrowthBytes / MIB).toFixed(2)} MiB (in use ${
              (d.etcdInUseGrowthBytes / MIB).toFixed(2)
            } MiB)`,
            formatMs(percentile(stats.latenciesMs, 50)),
            formatMs(percentile(stats.latenciesMs, 99)),
            d.apiserverCores.toFixed(2),
            `${(after.apiserverRssBytes / MIB).toFixed(0)} MiB (peak ${
              (peakRss / MIB).toFixed(0)
            })`,
            oldest,
            clientCores.toFixed(2),
          ].join(" | ")
        } |`,
      );
      const firstError = stats.firstError ?? agentErrors[0];
      if (stats.failed > 0 && firstError) {
        console.log(`${mode}: first error: ${firstError}`);
      }
      agentErrors.length = 0;
    }
    console.log(
      "\n| behaviour | publishes | state changes | report writes/s | ok writes/s | all writes/s | reads/s | etcd db growth | p50 publish | p99 publish | apiserver CPU (cores) | apiserver RSS | oldest report | agents' CPU (cores) |",
    );
    console.log(
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    );
    for (const row of rows) console.log(row);
    const after = writes["on-change"];
    for (const before of ["always-old", "always"] as const) {
      const value = writes[before];
      if (value !== undefined && after !== undefined) {
        console.log(
          `report writes cut ${(value / after).toFixed(1)}x against ` +
            `"${LABELS[before]}" (report writes/s: every POST and PUT on ` +
            "kcm.intel.com, 409s included)",
        );
      }
    }
    console.log(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
    return 0;
  } finally {
    stop.abort();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}

Deno.exit(await run());
