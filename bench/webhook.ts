// deno-lint-ignore-file no-console
/**
 * Benchmark 6, the admission webhook: latency (p50, p99) and throughput of
 * `POST /mutate` under 200 concurrent requests, and the resident memory of
 * the webhook process before load, after warm-up and at the end.
 *
 * The kcm webhook (`deno run main.ts webhook`, with kcm's V8 flags) and the baseline (`bench/floor_webhook.ts`: the same
 * `node:https` stack reading the body and answering the very bytes kcm
 * answers, without computing them) run as their own
 * processes on 127.0.0.1 with a CA made for the run, so their RSS is their
 * own. The load comes from this process: 200 async workers sending a
 * realistic AdmissionReview (a two-container pod, 3.7 KiB) over HTTP/1.1
 * keep-alive connections, in rounds that alternate kcm and baseline (ABAB...). The
 * first round of each is warm-up and not counted.
 *
 * The load generator shares the machine's CPUs with the server: at 200
 * requests in flight latency is mostly queueing (Little's law: latency =
 * in flight / throughput), so 20 in flight and one at a time are reported
 * too. Last, pods are created (dry run) through a real kube-apiserver with
 * the shipped MutatingWebhookConfiguration pointing at the webhook.
 *
 * Standalone: `deno run --allow-all bench/webhook.ts [--duration=<s>]`
 * (seconds of measured load per server, default 30).
 */

import { join } from "node:path";
import { reviewAdmission } from "../core/webhook/review.ts";
import { makeCa } from "../tests/_helpers/tls.ts";
import { readMemory } from "./memory_in_process.ts";
import {
  DENO,
  formatMs,
  KCM_V8_FLAGS,
  percentile,
  repoPath,
} from "./measure.ts";
import type { BenchOptions } from "./options.ts";
import { apiserverRows } from "./webhook_apiserver.ts";
import { admissionReview } from "./webhook_fixture.ts";
import { type Row, timeRow } from "./table.ts";

const CONCURRENCY = 200;
/** A lighter load, nearer what one API server sends. */
const FEW = 20;
const FLOOR = "floor_webhook.ts (same HTTPS, constant answer)";
/** p99 latency the issue asks for, in ms. */
const P99_TARGET = 10;
/** Allowed RSS growth from after warm-up to the end. */
const MAX_GROWTH = 1.1;

interface Server {
  readonly pid: number;
  readonly url: string;
  readonly caPem: string;
  readonly client: Deno.HttpClient;
  stop(): Promise<void>;
}

async function startServer(
  name: string,
  args: string[],
  caPem: string,
): Promise<Server> {
  const child = new Deno.Command(DENO, {
    args: ["run", "--allow-all", KCM_V8_FLAGS, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let log = "";
  let match: RegExpExecArray | null = null;
  while ((match = /https:\/\/127\.0\.0\.1:(\d+)/.exec(log)) === null) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`${name} exited before listening: ${log}`);
    log += value;
  }
  const client = Deno.createHttpClient({
    caCerts: [caPem],
    http2: false,
    poolMaxIdlePerHost: CONCURRENCY,
  });
  // Keep draining stderr so the server never blocks on a full pipe.
  const drained = (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })();
  return {
    pid: child.pid,
    url: `https://127.0.0.1:${match[1]}`,
    caPem,
    // HTTP/1.1 keep-alive connections, one per worker: Deno's HTTP/2 client
    // adds about 40 ms to every request that has a body (curl and Go over
    // HTTP/2 to the same server do not), which would measure the client.
    client,
    async stop() {
      client.close();
      child.kill("SIGTERM");
      await child.status;
      await drained;
    },
  };
}

/** Latencies (ms) of requests sent by `concurrency` workers for `ms`. */
async function load(
  server: Server,
  body: string,
  concurrency: number,
  ms: number,
): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  const start = performance.now();
  const deadline = start + ms;
  const worker = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      const response = await fetch(`${server.url}/mutate`, {
        method: "POST",
        body,
        headers: { "content-type": "application/json" },
        client: server.client,
      });
      const text = await response.text();
      if (response.status !== 200 || !text.includes('"allowed":true')) {
        throw new Error(`unexpected answer ${response.status}: ${text}`);
      }
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { latencies, seconds: (performance.now() - start) / 1000 };
}

function memoryRow(
  benchmark: string,
  kib: number,
  baseline: string,
  baseKib: number,
  target?: number,
): Row {
  return {
    benchmark,
    kcm: `${(kib / 1024).toFixed(1)} MiB`,
    baseline,
    baselineValue: `${(baseKib / 1024).toFixed(1)} MiB`,
    ratio: kib / baseKib,
    target: target === undefined ? "" : `<= ${target}x`,
    met: target === undefined ? undefined : kib / baseKib <= target,
  };
}

/** Runs benchmark 6 and returns its rows. */
export async function benchWebhook(
  options: BenchOptions & { durationSeconds?: number },
): Promise<Row[]> {
  const total = options.durationSeconds ?? (options.quick ? 6 : 30);
  const roundSeconds = Math.min(5, total);
  const rounds = Math.max(1, Math.round(total / roundSeconds));
  const dir = await Deno.makeTempDir({ prefix: "kcm-bench-webhook-" });
  const servers: Server[] = [];
  try {
    const ca = await makeCa(dir, "bench-ca");
    const leaf = await ca.issue("tls");
    const kcm = await startServer("kcm webhook", [
      repoPath("main.ts"),
      "webhook",
      "--conf-dir=/etc/kcm",
      "--install-dir=/opt/bin",
      `--tls-cert=${leaf.certFile}`,
      `--tls-key=${leaf.keyFile}`,
      "--listen=127.0.0.1:0",
    ], ca.caPem);
    servers.push(kcm);
    const body = admissionReview();
    const answerFile = join(dir, "answer.json");
    await Deno.writeTextFile(
      answerFile,
      JSON.stringify(
        reviewAdmission(body, { confDir: "/etc/kcm", installDir: "/opt/bin" })
          .review,
      ),
    );
    const floor = await startServer("floor_webhook.ts", [
      repoPath("bench/floor_webhook.ts"),
      leaf.certFile,
      leaf.keyFile,
      answerFile,
    ], ca.caPem);
    servers.push(floor);
    const idle = readMemory(kcm.pid);
    const floorIdle = readMemory(floor.pid);
    console.log(
      `webhook: ${rounds} rounds of ${roundSeconds} s per server, ${CONCURRENCY} in flight, body ${body.length} bytes`,
    );

    const samples = { kcm: [] as number[], floor: [] as number[] };
    const seconds = { kcm: 0, floor: 0 };
    let warm = idle, half = idle;
    for (let round = 0; round <= rounds; round++) {
      const order = round % 2 === 0
        ? [["kcm", kcm], ["floor", floor]] as const
        : [["floor", floor], ["kcm", kcm]] as const;
      for (const [name, server] of order) {
        const result = await load(
          server,
          body,
          CONCURRENCY,
          roundSeconds * 1000,
        );
        if (round === 0) continue;
        samples[name].push(...result.latencies);
        seconds[name] += result.seconds;
      }
      if (round === 0) warm = readMemory(kcm.pid);
      if (round === Math.ceil(rounds / 2)) half = readMemory(kcm.pid);
    }
    const end = readMemory(kcm.pid);
    const floorEnd = readMemory(floor.pid);
    const single = { kcm: [] as number[], floor: [] as number[] };
    const few = { kcm: [] as number[], floor: [] as number[] };
    for (const [name, server] of [["kcm", kcm], ["floor", floor]] as const) {
      single[name] =
        (await load(server, body, 1, roundSeconds * 400)).latencies;
      few[name] = (await load(server, body, FEW, roundSeconds * 1000))
        .latencies;
    }

    const p = (name: "kcm" | "floor", q: number) =>
      percentile(samples[name], q);
    const rate = (name: "kcm" | "floor") =>
      samples[name].length / seconds[name];
    const label = `8. webhook /mutate, ${CONCURRENCY} in flight`;
    const rows: Row[] = [
      timeRow(
        `${label}: p50 latency`,
        p("kcm", 50),
        FLOOR,
        p("floor", 50),
      ),
      {
        ...timeRow(
          `${label}: p99 latency`,
          p("kcm", 99),
          FLOOR,
          p("floor", 99),
        ),
        target: `p99 < ${P99_TARGET} ms`,
        met: p("kcm", 99) < P99_TARGET,
      },
      {
        benchmark: `${label}: throughput`,
        kcm: `${rate("kcm").toFixed(0)}/s`,
        baseline: FLOOR,
        baselineValue: `${rate("floor").toFixed(0)}/s`,
        ratio: rate("floor") / rate("kcm"),
        target: "",
        met: undefined,
      },
      timeRow(
        `8. webhook /mutate, ${FEW} in flight: p99 latency`,
        percentile(few.kcm, 99),
        FLOOR,
        percentile(few.floor, 99),
      ),
      timeRow(
        "8. webhook /mutate, 1 in flight: p50 latency",
        percentile(single.kcm, 50),
        FLOOR,
        percentile(single.floor, 50),
      ),
      memoryRow(
        "8. webhook process: VmRSS at the end of the load",
        end.rss,
        "same process after the warm-up round",
        warm.rss,
        MAX_GROWTH,
      ),
      memoryRow(
        "8. webhook process: VmRSS at the end of the load",
        end.rss,
        `same process after round ${Math.ceil(rounds / 2)} of ${rounds}`,
        half.rss,
        MAX_GROWTH,
      ),
      memoryRow(
        "8. webhook process: VmRSS at the end of the load",
        end.rss,
        "floor_webhook.ts at the end",
        floorEnd.rss,
      ),
      memoryRow(
        "8. webhook process: VmRSS idle, before any request",
        idle.rss,
        "floor_webhook.ts idle",
        floorIdle.rss,
      ),
      memoryRow(
        "8. webhook process: VmHWM at the end",
        end.hwm,
        "floor_webhook.ts",
        floorEnd.hwm,
      ),
      ...await apiserverRows(kcm, body, options.quick),
    ];
    console.log(
      `webhook: kcm ${samples.kcm.length} requests, floor ${samples.floor.length}; kcm p50 ${
        formatMs(p("kcm", 50))
      } p99 ${formatMs(p("kcm", 99))}`,
    );
    return rows;
  } finally {
    for (const server of servers) await server.stop();
    await Deno.remove(join(dir), { recursive: true });
  }
}

if (import.meta.main) {
  let durationSeconds: number | undefined;
  for (const arg of Deno.args) {
    const match = /^--duration=(\d+)$/.exec(arg);
    if (match === null) {
      console.error("usage: bench/webhook.ts [--duration=<seconds>]");
      Deno.exit(2);
    }
    durationSeconds = Number(match[1]);
  }
  const { formatTable } = await import("./table.ts");
  console.log(
    formatTable(
      await benchWebhook({
        quick: false,
        ...(durationSeconds === undefined ? {} : { durationSeconds }),
      }),
    ),
  );
}
