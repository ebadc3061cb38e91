/**
 * Simulated node agents for the fleet benchmark: each has its own node
 * name (and Node object), a tiny config directory, and a ServiceAccount
 * token of its own; all run in this process. An agent's loop builds its
 * node report with kcm's real `buildNodeReport` and hands it to a
 * {@linkcode PublishFn}: the real loop step of `--interval --publish`
 * (`ReportPublisher.round` of core/k8s/reports.ts, which decides with
 * core/publish_policy.ts and writes with core/k8s/report_writer.ts), with
 * kcm's default heartbeat or with a heartbeat of 0 (a write every
 * interval), or the old way of publishing (fleet_legacy.ts).
 */

import { join } from "node:path";
import { buildNodeReport } from "../commands/node_report.ts";
import { type Host, systemClock } from "../core/host.ts";
import type { JsonValue } from "../core/json.ts";
import { ReportPublisher } from "../core/k8s/reports.ts";
import { reportCrd } from "../core/k8s/report_objects.ts";
import { createLogger } from "../core/log.ts";
import {
  decidePublish,
  INITIAL_PUBLISH_STATE,
  type PublishPolicy,
  recordPublish,
} from "../core/publish_policy.ts";
import {
  type ControlPlane,
  type CrdObject,
  createCrd,
} from "../tests/k8s/testenv.ts";
import { publishTheOldWay } from "./fleet_legacy.ts";
import { inBatches, writeConfigDir } from "./fixtures.ts";

/** One simulated node agent. */
export interface Agent {
  readonly node: string;
  readonly confDir: string;
  /** What kcm's code gets: env (KUBECONFIG, NODE_NAME), clock, logger. */
  readonly host: Host;
  /** True while its config holds a task on the wrong CPUs (a failing check). */
  failing: boolean;
  /** Bumped on every change, to rebuild the report only when needed. */
  version: number;
  /** The report of `version`, built once. */
  report?: { version: number; value: JsonValue };
  /** The loop step of the behaviour being measured (see {@linkcode useBehaviour}). */
  publisher: ReportPublisher;
}

/** What one call of a {@linkcode PublishFn} did. */
export type PublishResult = "written" | "skipped" | "failed";

/** One loop step of an agent: decide, and publish when due. */
export type PublishFn = (
  agent: Agent,
  report: JsonValue,
) => Promise<PublishResult>;

/** The behaviours the benchmark compares. */
export type Behaviour = "always-old" | "always" | "on-change";

/**
 * The publish step of the new loop: `ReportPublisher.round`, which writes
 * on change and at the heartbeat (or every round with a heartbeat of 0).
 */
export async function publishWithLoopStep(
  agent: Agent,
  report: JsonValue,
): Promise<PublishResult> {
  const outcome = await agent.publisher.round({ report });
  return outcome.publish === "created" || outcome.publish === "replaced"
    ? "written"
    : outcome.publish === "failed"
    ? "failed"
    : "skipped";
}

/** The old publish step (fleet_legacy.ts): a write every round. */
export async function publishTheOldWayStep(
  agent: Agent,
  report: JsonValue,
): Promise<PublishResult> {
  await publishTheOldWay(agent.host, agent.node, report);
  return "written";
}

/**
 * Gives every agent a fresh loop step for `behaviour` (as a restarted
 * daemon would have): kcm's heartbeat for `on-change`, 0 for `always`.
 */
export function useBehaviour(
  agents: readonly Agent[],
  behaviour: Behaviour,
  options: { intervalSeconds: number; heartbeatSeconds: number },
): void {
  for (const agent of agents) {
    agent.publisher = new ReportPublisher("NodeReport", {
      host: agent.host,
      loop: {
        intervalSeconds: options.intervalSeconds,
        heartbeatSeconds: behaviour === "on-change"
          ? options.heartbeatSeconds
          : 0,
      },
    });
  }
}

/** The first few ERROR lines the agents' loop steps logged. */
export const agentErrors: string[] = [];

/** The namespace the agents' ServiceAccounts and reports live in. */
export const FLEET_NAMESPACE = "kcm-fleet";

/**
 * RBAC for every ServiceAccount of {@linkcode FLEET_NAMESPACE}: read
 * Nodes (the owners of the reports) and the report CRD (the old way reads
 * it), write reports.
 */
async function grantReportRights(cp: ControlPlane): Promise<void> {
  const rbac = "/apis/rbac.authorization.k8s.io/v1";
  const writes: [string, Record<string, unknown>][] = [
    [`${rbac}/clusterroles`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "kcm-fleet-agent" },
      rules: [
        { apiGroups: [""], resources: ["nodes"], verbs: ["get"] },
        {
          apiGroups: ["apiextensions.k8s.io"],
          resources: ["customresourcedefinitions"],
          verbs: ["get"],
        },
        {
          apiGroups: ["kcm.intel.com"],
          resources: ["nodereports", "reconcilereports"],
          verbs: ["get", "create", "update"],
        },
      ],
    }],
    [`${rbac}/clusterrolebindings`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "kcm-fleet-agent" },
      roleRef: {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "ClusterRole",
        name: "kcm-fleet-agent",
      },
      subjects: [{
        apiGroup: "rbac.authorization.k8s.io",
        kind: "Group",
        name: `system:serviceaccounts:${FLEET_NAMESPACE}`,
      }],
    }],
  ];
  for (const [path, object] of writes) {
    const { status, body } = await cp.api("POST", path, object);
    if (status !== 201) {
      throw new Error(`POST ${path}: HTTP ${status} ${JSON.stringify(body)}`);
    }
  }
}

/** The one pool of an agent's config: list `0`, with a task when failing. */
function pools(failing: boolean) {
  return [{
    name: "infra",
    exclusive: false,
    lists: [{ name: "0", tasks: failing ? [Deno.pid] : [] }],
  }];
}

/**
 * Creates `count` agents under `root`: Node objects, config directories,
 * ServiceAccounts with tokens and kubeconfigs (20 at a time), the report
 * CRD and RBAC.
 */
export async function createAgents(
  cp: ControlPlane,
  root: string,
  count: number,
  stop: AbortSignal,
): Promise<Agent[]> {
  await createCrd(cp, reportCrd("NodeReport") as unknown as CrdObject);
  await cp.serviceAccount(FLEET_NAMESPACE, "agent-0");
  await grantReportRights(cp);
  const log = createLogger("ERROR", (line) => {
    if (agentErrors.length < 5) agentErrors.push(line.trimEnd());
  });
  const agents: Agent[] = [];
  const indexes = Array.from({ length: count }, (_, i) => i);
  for (let i = 0; i < count; i += 20) {
    await Promise.all(
      indexes.slice(i, i + 20).map(async (index) => {
        const node = `fleet-node-${String(index).padStart(5, "0")}`;
        const confDir = join(root, node);
        await writeConfigDir(confDir, pools(false));
        // A bare Node: the reports' owner (no kubelet, no status needed).
        const created = await cp.api("POST", "/api/v1/nodes", {
          apiVersion: "v1",
          kind: "Node",
          metadata: { name: node },
        });
        if (created.status !== 201 && created.status !== 409) {
          throw new Error(`POST node ${node}: HTTP ${created.status}`);
        }
        const account = await cp.serviceAccount(
          FLEET_NAMESPACE,
          `agent-${index}`,
        );
        const host: Host = {
          env: { KUBECONFIG: account.kubeconfig, NODE_NAME: node },
          procRoot: "/proc",
          sysRoot: "/sys",
          lockTimeoutMs: 30_000,
          log,
          write: () => Promise.resolve(),
          now: () => new Date(),
          clock: systemClock,
          hostname: () => node,
          stopSignal: () => stop,
        };
        agents[index] = {
          node,
          confDir,
          host,
          failing: false,
          version: 0,
          publisher: new ReportPublisher("NodeReport", { host }),
        };
      }),
    );
  }
  return agents;
}

/** Flips the agent's state on disk: a task on the wrong CPUs, or none. */
export async function toggleState(agent: Agent): Promise<void> {
  agent.failing = !agent.failing;
  agent.version++;
  await Deno.writeTextFile(
    join(agent.confDir, "pools", "infra", "0", "tasks"),
    agent.failing ? String(Deno.pid) : "",
  );
}

/** The agent's current node report (built by kcm, once per state). */
export async function currentReport(agent: Agent): Promise<JsonValue> {
  if (agent.report?.version !== agent.version) {
    const version = agent.version;
    agent.report = {
      version,
      value: await buildNodeReport(agent.confDir, agent.host),
    };
  }
  return agent.report.value;
}

/**
 * Sets every agent's publish state as in a fleet that has run for a while:
 * its current report written once at a moment spread over the last
 * heartbeat, so heartbeats fall evenly over the measurement.
 */
export async function steadyPublishStates(
  agents: readonly Agent[],
  policy: PublishPolicy,
  nowMs: number,
): Promise<void> {
  await inBatches(agents, async (agent) => {
    const at = nowMs - Math.random() * policy.heartbeatSeconds * 1000;
    const report = await currentReport(agent);
    const decision = decidePublish(INITIAL_PUBLISH_STATE, report, {
      nowMs: at,
      oneShot: false,
      policy,
    });
    agent.publisher.state = recordPublish(INITIAL_PUBLISH_STATE, decision, {
      nowMs: at,
      ok: true,
      random: Math.random(),
      policy,
    });
  });
}

/** Counters of one loop phase. */
export interface LoopStats {
  /** Milliseconds each publish call took. */
  readonly latenciesMs: number[];
  published: number;
  failed: number;
  skipped: number;
  /** First error message seen, for the printout. */
  firstError?: string;
}

/** Options of {@linkcode runAgentLoop}. */
export interface LoopOptions {
  readonly intervalSeconds: number;
  readonly publish: PublishFn;
  /** Loops end at this `performance.now()` time. */
  readonly untilMs: number;
  readonly stats: LoopStats;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/**
 * One agent's `--interval` loop until `untilMs`: start at a random offset
 * within the first interval (agents of a real fleet did not start in the
 * same second), build the report, hand it to the publish step, wait the
 * interval after the iteration, as `core/repeat.ts` does.
 */
export async function runAgentLoop(
  agent: Agent,
  options: LoopOptions,
): Promise<void> {
  const { stats } = options;
  await sleep(Math.random() * options.intervalSeconds * 1000);
  while (performance.now() < options.untilMs) {
    const report = await currentReport(agent);
    const started = performance.now();
    let result: PublishResult;
    try {
      result = await options.publish(agent, report);
    } catch (error) {
      result = "failed";
      stats.firstError ??= error instanceof Error
        ? error.message
        : String(error);
    }
    if (result === "skipped") {
      stats.skipped++;
    } else {
      stats.latenciesMs.push(performance.now() - started);
      if (result === "written") stats.published++;
      else stats.failed++;
    }
    await sleep(
      Math.min(
        options.intervalSeconds * 1000,
        options.untilMs - performance.now(),
      ),
    );
  }
}
