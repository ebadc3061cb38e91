/**
 * Simulated node agents for the fleet benchmark: each has its own node
 * name, a tiny config directory, and a ServiceAccount token of its own;
 * all run in this process. An agent's loop builds its node report with
 * kcm's real `buildNodeReport` and hands it to a {@linkcode PublishFn},
 * either every interval (kcm's behaviour before publish-on-change) or when
 * `core/publish_policy.ts` says so.
 *
 * The publish step is a parameter so the benchmark can point at whatever
 * module publishes reports: {@linkcode publishWithReportsModule} is
 * today's `publishReport` of `core/k8s/reports.ts`.
 */

import { join } from "node:path";
import { buildNodeReport } from "../commands/node_report.ts";
import { type Host, systemClock } from "../core/host.ts";
import type { JsonValue } from "../core/json.ts";
import { publishReport } from "../core/k8s/reports.ts";
import { reportCrd } from "../core/k8s/report_objects.ts";
import { createLogger } from "../core/log.ts";
import {
  decidePublish,
  INITIAL_PUBLISH_STATE,
  type PublishPolicy,
  type PublishState,
  recordPublish,
} from "../core/publish_policy.ts";
import {
  type ControlPlane,
  type CrdObject,
  createCrd,
} from "../tests/k8s/testenv.ts";
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
  /** Publish-on-change bookkeeping. */
  publishState: PublishState;
}

/** Publishes one agent's report. */
export type PublishFn = (agent: Agent, report: JsonValue) => Promise<void>;

/** Today's publish step: `publishReport` of core/k8s/reports.ts. */
export function publishWithReportsModule(
  agent: Agent,
  report: JsonValue,
): Promise<void> {
  return publishReport(agent.host, "NodeReport", report);
}

/** The namespace the agents' ServiceAccounts and reports live in. */
export const FLEET_NAMESPACE = "kcm-fleet";

/**
 * RBAC for every ServiceAccount of {@linkcode FLEET_NAMESPACE}: read the
 * report CRD, write reports (the verbs of `resources/rbac.yaml`).
 */
async function grantReportRights(cp: ControlPlane): Promise<void> {
  const rbac = "/apis/rbac.authorization.k8s.io/v1";
  const writes: [string, Record<string, unknown>][] = [
    [`${rbac}/clusterroles`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "kcm-fleet-agent" },
      rules: [
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
 * Creates `count` agents under `root`: config directories, ServiceAccounts
 * with tokens and kubeconfigs (20 at a time), the report CRD and RBAC.
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
  const log = createLogger("CRITICAL", () => {});
  const agents: Agent[] = [];
  const indexes = Array.from({ length: count }, (_, i) => i);
  for (let i = 0; i < count; i += 20) {
    await Promise.all(
      indexes.slice(i, i + 20).map(async (index) => {
        const node = `fleet-node-${String(index).padStart(5, "0")}`;
        const confDir = join(root, node);
        await writeConfigDir(confDir, pools(false));
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
          publishState: INITIAL_PUBLISH_STATE,
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
 * its report written once at a moment spread over the last heartbeat.
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
    agent.publishState = recordPublish(INITIAL_PUBLISH_STATE, decision, {
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
  readonly mode: "always" | "on-change";
  readonly intervalSeconds: number;
  readonly policy: PublishPolicy;
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
 * same second), build the report, publish it (always, or when the policy
 * says), wait the interval after the iteration, as `core/repeat.ts` does.
 */
export async function runAgentLoop(
  agent: Agent,
  options: LoopOptions,
): Promise<void> {
  const { stats } = options;
  await sleep(Math.random() * options.intervalSeconds * 1000);
  while (performance.now() < options.untilMs) {
    const report = await currentReport(agent);
    const nowMs = Date.now();
    const decision = decidePublish(agent.publishState, report, {
      nowMs,
      oneShot: options.mode === "always",
      policy: options.policy,
    });
    if (!decision.publish) {
      stats.skipped++;
    } else {
      const started = performance.now();
      let ok = true;
      try {
        await options.publish(agent, report);
        stats.published++;
      } catch (error) {
        ok = false;
        stats.failed++;
        stats.firstError ??= error instanceof Error
          ? error.message
          : String(error);
      }
      stats.latenciesMs.push(performance.now() - started);
      agent.publishState = recordPublish(agent.publishState, decision, {
        nowMs,
        ok,
        random: Math.random(),
        policy: options.policy,
      });
    }
    await sleep(
      Math.min(
        options.intervalSeconds * 1000,
        options.untilMs - performance.now(),
      ),
    );
  }
}
