/**
 * `kcm cluster-init --all-hosts` on 50 fake nodes of a real API server:
 * pods are created a bounded number at a time (counted by a plain-HTTP
 * proxy in front of the server, which kcm reaches with `--insecure-http`),
 * progress comes as a summary line every few seconds rather than a line
 * per node, and every node ends in the table. The setup pods are marked
 * Succeeded by the test (tests/_helpers/fleet_setup.ts). The 500-node
 * figure is bench/cluster_init_scale.ts's.
 */

import assert from "node:assert/strict";
import { CONCURRENCY } from "../../core/k8s/one_shot_pods.ts";
import {
  completeSetupPods,
  countingProxy,
  createNodes,
  writeKubeconfig,
} from "../_helpers/fleet_setup.ts";
import {
  installKcmIdentities,
  KCM_NAMESPACE,
} from "../_helpers/k8s_manifests.ts";
import { runKcm } from "../_helpers/run_cli.ts";
import { startControlPlane } from "../k8s/testenv.ts";

const NODES = 50;

Deno.test(`cluster-init --all-hosts on ${NODES} nodes`, async () => {
  await using cp = await startControlPlane();
  const kcm = await installKcmIdentities(cp);
  const names = Array.from(
    { length: NODES },
    (_, i) => `fleet-${String(i).padStart(3, "0")}`,
  );
  await createNodes(cp, names);
  await using proxy = countingProxy(cp);
  const kubeconfig = await writeKubeconfig(
    cp,
    "installer-via-proxy",
    proxy.url,
    kcm.installer.token,
  );
  await using _completer = completeSetupPods(cp, KCM_NAMESPACE);
  const result = await runKcm([
    "cluster-init",
    "--all-hosts",
    "--kcm-cmd-list=discover",
    `--kubeconfig=${kubeconfig}`,
    "--insecure-http",
    "--timeout=300",
  ], { env: { KCM_LOG_LEVEL: "INFO" } });
  assert.equal(result.code, 0, result.stderr);

  const rows = result.stdout.trimEnd().split("\n");
  assert.equal(rows.length, NODES + 1);
  assert.ok(
    rows.slice(1).every((r) => /^fleet-\d{3}\s+ok$/.test(r)),
    rows.join("\n"),
  );
  // Bounded, and actually concurrent.
  const peak = proxy.peakPodCreates();
  assert.ok(peak <= CONCURRENCY, `peak ${peak} pod creations at once`);
  assert.ok(peak > 1, `peak ${peak}: creations were not concurrent`);
  // Summary lines, no line per node: a handful of INFO lines in all.
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines.filter((l) => l.includes('Node "')).length, 0);
  const progress = lines.filter((l) => l.startsWith("INFO:root:setup pods: "));
  assert.ok(progress.length >= 1 && progress.length <= 20, lines.join("\n"));
  assert.equal(
    progress.at(-1),
    `INFO:root:setup pods: ${NODES} succeeded, 0 failed, 0 pending`,
  );
  assert.ok(lines.length < 30, `${lines.length} log lines`);
  // One list request per round, not one per node: few requests beyond the
  // creations.
  assert.ok(
    proxy.requests() < NODES + 60,
    `${proxy.requests()} requests for ${NODES} nodes`,
  );
});
