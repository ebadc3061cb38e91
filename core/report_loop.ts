/**
 * What `reconcile` and `node-report` do around each round of their own
 * work: print the report, keep the metrics, turn what changed into Node
 * Events, publish (k8s/reports.ts), and, with `--interval`, repeat
 * (repeat.ts) with a `/metrics` endpoint (`--metrics-listen`).
 *
 * Side effects: stdout; with `--metrics-listen`, an HTTP server until the
 * loop stops, and reads of this process's procfs entries per scrape; with
 * `--publish`, the Kubernetes API (lazily loaded, so a plain run never
 * loads the client).
 *
 * A round that fails (the config directory cannot be locked or read) is
 * published as a failing report (report_objects.ts `failedReport`) before
 * its error is logged (a loop) or thrown (a one-shot run), so an old OK
 * never outlives the problem.
 */

import type { ConnectionFlags } from "./connection_flags.ts";
import { errorMessage } from "./errors.ts";
import type { Host } from "./host.ts";
import { formatJson, type JsonValue } from "./json.ts";
import {
  createKcmMetrics,
  type KcmMetrics,
  type LoopCommand,
  observeChecks,
  observeLoop,
  observePools,
  observeProcess,
  observeReclaimed,
  type PoolUsage,
} from "./kcm_metrics.ts";
import type {
  CheckState,
  NodeEvent,
  ReclaimedClaim,
} from "./k8s/node_events.ts";
import type { ReportPublisher } from "./k8s/reports.ts";
import { failedReport, type ReportKind } from "./k8s/report_objects.ts";
import { formatListenAddress, type ListenAddress } from "./listen_address.ts";
import { repeatEvery } from "./repeat.ts";
import { VERSION } from "./usage.ts";

/** What one round of the command found. */
export interface RoundResult {
  /** The report as the command prints it. */
  readonly report: JsonValue;
  /** The pools after the round, for the pool metrics. */
  readonly pools: readonly PoolUsage[];
  /** node-report: the state of each check. */
  readonly checks?: Readonly<Record<string, CheckState>>;
  /** reconcile: the claims it gave back. */
  readonly reclaimed?: readonly ReclaimedClaim[];
}

/** One round; `signal` aborts on SIGTERM/SIGINT in a loop. */
export type Round = (signal: AbortSignal | undefined) => Promise<RoundResult>;

/** How the command runs. */
export interface ReportLoopOptions {
  readonly command: LoopCommand;
  readonly kind: ReportKind;
  /** `--interval`: 0 runs once. */
  readonly intervalSeconds: number;
  /** `--heartbeat`. */
  readonly heartbeatSeconds: number;
  /** `--publish`. */
  readonly publish: boolean;
  /** `--metrics-listen` (loops only; the command refuses it otherwise). */
  readonly metricsListen?: ListenAddress | undefined;
  /** `--kubeconfig`, `--context`, `--insecure-http` for publishing. */
  readonly connection?: ConnectionFlags | undefined;
}

const WHAT: Readonly<Record<LoopCommand, string>> = {
  "reconcile": "reconciliation",
  "node-report": "node report",
};

/** The checks of a node report document, when it has them. */
function checksOf(
  report: JsonValue,
): Readonly<Record<string, CheckState>> | undefined {
  if (typeof report !== "object" || report === null || Array.isArray(report)) {
    return undefined;
  }
  const checks = (report as Record<string, JsonValue>).checks;
  if (typeof checks !== "object" || checks === null || Array.isArray(checks)) {
    return undefined;
  }
  return checks as unknown as Record<string, CheckState>;
}

/**
 * Runs `round` once or every `--interval` with everything around it.
 * Resolves to the exit status.
 */
export async function runReportLoop(
  options: ReportLoopOptions,
  host: Host,
  round: Round,
): Promise<number> {
  const loop = options.intervalSeconds > 0
    ? {
      intervalSeconds: options.intervalSeconds,
      heartbeatSeconds: options.heartbeatSeconds,
    }
    : undefined;
  const metrics = options.metricsListen && loop
    ? createKcmMetrics(VERSION)
    : undefined;
  let publisher: ReportPublisher | undefined;
  if (options.publish) {
    const { ReportPublisher } = await import("./k8s/reports.ts");
    publisher = new ReportPublisher(options.kind, {
      host,
      loop,
      metrics,
      connection: options.connection,
    });
  }
  const { checkEvents, reclaimEvents } = options.publish
    ? await import("./k8s/node_events.ts")
    : { checkEvents: undefined, reclaimEvents: undefined };
  let previousChecks: Readonly<Record<string, CheckState>> | undefined;

  /** Events of a round: check transitions (loops), reclaims (always). */
  const eventsOf = (
    checks: RoundResult["checks"],
    reclaimed: RoundResult["reclaimed"],
  ): NodeEvent[] => {
    const events: NodeEvent[] = [];
    if (checks && loop && checkEvents) {
      events.push(...checkEvents(previousChecks, checks));
      previousChecks = checks;
    }
    if (reclaimed && reclaimEvents) events.push(...reclaimEvents(reclaimed));
    return events;
  };

  const iteration = async (signal: AbortSignal | undefined) => {
    const started = host.clock.now();
    try {
      let result: RoundResult;
      try {
        if (loop) host.log.debug(`Running ${WHAT[options.command]}`);
        result = await round(signal);
      } catch (error) {
        if (signal?.aborted) throw error;
        const report = failedReport(options.kind, errorMessage(error));
        if (metrics) {
          observePools(metrics, []);
          const checks = checksOf(report);
          if (checks) observeChecks(metrics, checks);
        }
        if (publisher) {
          await publisher.round({
            report,
            events: eventsOf(checksOf(report), undefined),
            signal,
          }).catch((publishError) => {
            // One-shot: the round's own error is the one to exit with.
            host.log.error(errorMessage(publishError));
          });
        }
        throw error;
      }
      // A failed print (a closed stdout) must not keep the report from
      // being published: print, publish, then report the print's failure.
      const printed = host.write(formatJson(result.report)).then(
        () => undefined,
        (error: unknown) => ({ error }),
      );
      if (metrics) observeRound(metrics, result);
      await publisher?.round({
        report: result.report,
        events: eventsOf(result.checks, result.reclaimed),
        signal,
      });
      const failedPrint = await printed;
      if (failedPrint) throw failedPrint.error;
    } finally {
      if (metrics) {
        observeLoop(
          metrics,
          options.command,
          (host.clock.now() - started) / 1000,
        );
      }
    }
  };

  if (loop && options.metricsListen && metrics) {
    await serveLoopMetrics(options.metricsListen, metrics, host);
  }
  return await repeatEvery(
    options.intervalSeconds,
    host,
    WHAT[options.command],
    iteration,
  );
}

function observeRound(metrics: KcmMetrics, result: RoundResult): void {
  observePools(metrics, result.pools);
  if (result.checks) observeChecks(metrics, result.checks);
  if (result.reclaimed) observeReclaimed(metrics, result.reclaimed);
}

/**
 * Starts the `/metrics` server until the stop signal; a port in use fails
 * here, before the first round (`MetricsListenError`, exit 1).
 */
async function serveLoopMetrics(
  address: ListenAddress,
  metrics: KcmMetrics,
  host: Host,
): Promise<void> {
  const [{ serveMetrics }, { readProcessSample }] = await Promise.all([
    import("./metrics_server.ts"),
    import("./process_metrics.ts"),
  ]);
  const server = serveMetrics(address, {
    signal: host.stopSignal(),
    render: () => metrics.registry.format(),
    collect: async () => observeProcess(metrics, await readProcessSample()),
  });
  host.log.info(
    `Serving metrics on http://${formatListenAddress(server.address)}/metrics`,
  );
}
