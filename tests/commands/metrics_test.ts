/**
 * `--metrics-listen` as a real process: the loop serves kcm's metrics set
 * in the Prometheus text format (pools, reclaims, checks, loop duration,
 * process); a port in use is one clear error at start (exit 1); the flag
 * is refused in one-shot mode and with a bad address (exit 2). Publishing
 * counters are covered by publish_faults_test.ts.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  collectText,
  signalAndTime,
  waitForLine,
} from "../_helpers/process_output.ts";
import { runKcm, spawnKcm } from "../_helpers/run_cli.ts";
import { makeConfigDir } from "../_helpers/temp_config_dir.ts";
import { waitFor } from "../_helpers/wait.ts";

/** One sample's value from a text exposition, undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
}

Deno.test("reconcile and node-report --metrics-listen serve kcm's metrics", async () => {
  await using conf = await makeConfigDir({
    infra: { exclusive: false, lists: { "0-1": "" } },
    dataplane: { exclusive: true, lists: { "2": "424242", "3": "" } },
  });
  // An empty procfs: every recorded pid counts as exited.
  const procfs = join(conf.root, "proc");
  await Deno.mkdir(procfs);
  for (const command of ["reconcile", "node-report"] as const) {
    const kcm = spawnKcm([
      command,
      `--conf-dir=${conf.confDir}`,
      "--interval=1",
      "--metrics-listen=127.0.0.1:0",
    ], { env: { KCM_PROC_FS: procfs } });
    const out = collectText(kcm.stdout), err = collectText(kcm.stderr);
    try {
      const [, url] = await waitForLine(
        err,
        /^INFO:root:Serving metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)$/,
      );
      const text = await waitFor(
        `${command}: a scrape after a round`,
        async () => {
          const response = await fetch(url!);
          assert.equal(response.status, 200);
          assert.equal(
            response.headers.get("content-type"),
            "text/plain; version=0.0.4; charset=utf-8",
          );
          const body = await response.text();
          return (sample(
              body,
              `kcm_loop_duration_seconds_count{command="${command}"}`,
            ) ?? 0) >= 1
            ? body
            : undefined;
        },
      );
      assert.equal(sample(text, 'kcm_build_info{version="0.2.0"}'), 1);
      assert.equal(sample(text, 'kcm_pool_cpu_lists{pool="dataplane"}'), 2);
      assert.equal(sample(text, 'kcm_pool_cpu_lists{pool="infra"}'), 1);
      assert.ok((sample(text, "process_resident_memory_bytes") ?? 0) > 1e6);
      assert.ok((sample(text, "deno_heap_size_used_bytes") ?? 0) > 0);
      if (command === "reconcile") {
        // The first round gave dataplane:2 back.
        assert.equal(
          sample(text, 'kcm_reclaimed_cpu_lists_total{pool="dataplane"}'),
          1,
        );
        assert.equal(
          sample(text, 'kcm_pool_cpu_lists_in_use{pool="dataplane"}'),
          0,
        );
      } else {
        assert.equal(
          sample(text, 'kcm_node_report_check_ok{check="configDirectory"}'),
          1,
        );
      }
      const health = await fetch(url!.replace("/metrics", "/healthz"));
      assert.equal(await health.text(), "ok\n");
    } finally {
      const { status } = await signalAndTime(kcm, "SIGTERM");
      await Promise.all([out.done, err.done]);
      assert.equal(status.code, 0, err.text);
    }
  }
});

// Negative cases.
Deno.test("--metrics-listen on a port in use fails at start with one line", async () => {
  await using conf = await makeConfigDir({
    infra: { exclusive: false, lists: { "0": "" } },
  });
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  const result = await runKcm([
    "node-report",
    `--conf-dir=${conf.confDir}`,
    "--interval=1",
    `--metrics-listen=127.0.0.1:${port}`,
  ]);
  assert.equal(result.code, 1, result.stderr);
  assert.equal(result.stdout, "", "no round ran");
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(
    lines[0],
    `kcm: error: Cannot serve metrics on 127.0.0.1:${port}: address already in use`,
  );
  assert.match(lines[1] ?? "", /^hint: choose another port/);
  assert.equal(lines.length, 2, result.stderr);
});

Deno.test("--metrics-listen is refused without --interval and with a bad address", async () => {
  for (
    const [args, message] of [
      [
        ["reconcile", "--metrics-listen=:9102"],
        "kcm: error: --metrics-listen needs --interval: a one-shot run exits before it could be scraped",
      ],
      [
        ["node-report", "--interval=5", "--metrics-listen=9102"],
        'kcm: error: --metrics-listen: Cannot parse listen address "9102": expected "<host>:<port>"',
      ],
      [
        ["node-report", "--interval=5", "--heartbeat=soon"],
        'kcm: error: --heartbeat must be a whole number >= 0, got "soon"',
      ],
    ] as const
  ) {
    const result = await runKcm(args);
    assert.equal(result.code, 2, args.join(" "));
    assert.equal(result.stderr.split("\n")[0], message);
  }
});
