// deno-lint-ignore-file no-console
/**
 * `kcm cluster-init --all-hosts` on 500 fake nodes of the test control
 * plane (etcd + kube-apiserver), against a naive loop doing the same API
 * work one request at a time (what cluster-init did before: delete the old
 * pods, wait for them to go, create the pods one by one, then list until
 * all have ended). The setup pods are marked Succeeded by a fake kubelet
 * (tests/_helpers/fleet_setup.ts) as soon as they appear, so the time is
 * the API work and the waiting, not the pods' own work. kcm reaches the
 * API server through a counting proxy (`--insecure-http`), which also gives
 * its peak number of pod creations in flight and its request count.
 *
 * Rounds alternate (kcm, naive, naive, kcm, ...); each round replaces the
 * pods of the previous one, as a rerun does. Not part of `deno task bench`
 * (it needs the test binaries):
 *
 *     deno run --allow-all bench/cluster_init_scale.ts [--nodes=500] [--rounds=3]
 */

import {
  completeSetupPods,
  countingProxy,
  createNodes,
  writeKubeconfig,
} from "../tests/_helpers/fleet_setup.ts";
import {
  installKcmIdentities,
  KCM_NAMESPACE,
} from "../tests/_helpers/k8s_manifests.ts";
import { type ControlPlane, startControlPlane } from "../tests/k8s/testenv.ts";
import { setupPod } from "../core/k8s/workloads.ts";
import { DEFAULT_SETTINGS } from "../core/k8s/workloads.ts";
import { DENO, formatMs, interleave, median, repoPath } from "./measure.ts";

const SELECTOR = "app.kubernetes.io/name=kcm,app.kubernetes.io/component=setup";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The same work as cluster-init, one request at a time. */
async function naiveLoop(cp: ControlPlane, nodes: readonly string[]) {
  const path = `/api/v1/namespaces/${KCM_NAMESPACE}/pods`;
  const list = async () =>
    (await cp.api("GET", `${path}?labelSelector=${SELECTOR}`)).body.items as {
      metadata: { name: string };
      status?: { phase?: string };
    }[];
  for (const pod of await list()) {
    await cp.api("DELETE", `${path}/${pod.metadata.name}`);
  }
  while ((await list()).length > 0) await sleep(500);
  for (const node of nodes) {
    const r = await cp.api(
      "POST",
      path,
      setupPod(node, ["discover"], DEFAULT_SETTINGS),
    );
    if (r.status !== 201) throw new Error(`create: HTTP ${r.status}`);
  }
  while (
    !(await list()).every((p) =>
      p.status?.phase === "Succeeded" || p.status?.phase === "Failed"
    )
  ) await sleep(500);
}

async function run(): Promise<number> {
  let nodeCount = 500, rounds = 3;
  for (const arg of Deno.args) {
    const nodes = /^--nodes=(\d+)$/.exec(arg);
    const r = /^--rounds=(\d+)$/.exec(arg);
    if (nodes) nodeCount = Number(nodes[1]);
    else if (r) rounds = Number(r[1]);
    else {
      console.error(
        "usage: bench/cluster_init_scale.ts [--nodes=N] [--rounds=N]",
      );
      return 2;
    }
  }
  await using cp = await startControlPlane();
  const kcm = await installKcmIdentities(cp);
  const nodes = Array.from(
    { length: nodeCount },
    (_, i) => `fleet-${String(i).padStart(4, "0")}`,
  );
  let started = performance.now();
  await createNodes(cp, nodes);
  console.log(
    `${nodeCount} fake nodes created in ${
      formatMs(performance.now() - started)
    }`,
  );
  await using proxy = countingProxy(cp);
  const kubeconfig = await writeKubeconfig(
    cp,
    "installer-via-proxy",
    proxy.url,
    kcm.installer.token,
  );
  await using _completer = completeSetupPods(cp, KCM_NAMESPACE);
  const peaks: number[] = [], requests: number[] = [], lines: number[] = [];
  const samples = await interleave(rounds, {
    kcm: async () => {
      const before = proxy.requests();
      started = performance.now();
      const output = await new Deno.Command(DENO, {
        args: [
          "run",
          "--quiet",
          "--allow-all",
          repoPath("main.ts"),
          "cluster-init",
          "--all-hosts",
          "--kcm-cmd-list=discover",
          `--kubeconfig=${kubeconfig}`,
          "--insecure-http",
          "--timeout=600",
        ],
        env: { KCM_LOG_LEVEL: "INFO", NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const ms = performance.now() - started;
      const stderr = new TextDecoder().decode(output.stderr);
      if (!output.success) throw new Error(`cluster-init failed:\n${stderr}`);
      peaks.push(proxy.peakPodCreates());
      requests.push(proxy.requests() - before);
      lines.push(stderr.trimEnd().split("\n").length);
      return ms;
    },
    naive: async () => {
      started = performance.now();
      await naiveLoop(cp, nodes);
      return performance.now() - started;
    },
  }, { warmup: 0 });
  const kcmMs = median(samples.kcm!), naiveMs = median(samples.naive!);
  console.log(
    `\ncluster-init --all-hosts on ${nodeCount} nodes, median of ${rounds} rounds (each replaces the previous round's pods):`,
  );
  console.log(
    `  kcm cluster-init:   ${formatMs(kcmMs)} (rounds: ${
      samples.kcm!.map(formatMs).join(", ")
    })`,
  );
  console.log(
    `  naive serial loop:  ${formatMs(naiveMs)} (rounds: ${
      samples.naive!.map(formatMs).join(", ")
    })`,
  );
  console.log(`  ratio kcm / naive:  ${(kcmMs / naiveMs).toFixed(2)}x`);
  console.log(
    `  kcm: peak pod creations in flight ${Math.max(...peaks)}, ${
      median(requests)
    } API requests, ${median(lines)} log lines per run`,
  );
  console.log(
    `  target: API work under 60 s: ${kcmMs < 60_000 ? "met" : "NOT met"}`,
  );
  return 0;
}

if (import.meta.main) Deno.exit(await run());
