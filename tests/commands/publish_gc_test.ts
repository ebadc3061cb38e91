/**
 * Reports go with their Node: on a control plane running
 * kube-controller-manager's garbage collector, deleting a Node deletes the
 * NodeReport and ReconcileReport that `kcm ... --publish` wrote for it, and
 * only those.
 */

import assert from "node:assert/strict";
import {
  installKcmIdentities,
  KCM_NAMESPACE,
} from "../_helpers/k8s_manifests.ts";
import { getReport, REPORT_CRDS } from "../_helpers/report_api.ts";
import { runKcm } from "../_helpers/run_cli.ts";
import { makeConfigDir } from "../_helpers/temp_config_dir.ts";
import { waitFor } from "../_helpers/wait.ts";
import { createNode, startControlPlane } from "../k8s/testenv.ts";

const NS = KCM_NAMESPACE;
const PLURALS = ["nodereports", "reconcilereports"] as const;

Deno.test("deleting a Node deletes its reports (garbage collector)", async () => {
  // The CRDs exist before the garbage collector starts, so it watches
  // the report resources from the start.
  await using cp = await startControlPlane({
    controllers: ["garbage-collector-controller"],
    scheduler: false,
    crds: REPORT_CRDS,
  });
  const kcm = await installKcmIdentities(cp);
  await using conf = await makeConfigDir({
    infra: { exclusive: false, lists: { "0-1": "" } },
  });
  for (const node of ["doomed", "kept"]) {
    await createNode(cp, node);
    const sa = await kcm.nodeAgent(node);
    for (const command of ["node-report", "reconcile"]) {
      const result = await runKcm(
        [command, `--conf-dir=${conf.confDir}`, "--publish"],
        { env: { ...sa.inClusterEnv, NODE_NAME: node } },
      );
      assert.equal(result.code, 0, result.stderr);
    }
    for (const plural of PLURALS) {
      assert.ok(await getReport(cp, NS, plural, node), `${plural}/${node}`);
    }
  }

  const deleted = await cp.api("DELETE", "/api/v1/nodes/doomed");
  assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
  for (const plural of PLURALS) {
    await waitFor(
      `${plural}/doomed to be collected`,
      async () =>
        (await getReport(cp, NS, plural, "doomed")) === undefined
          ? true
          : undefined,
      60_000,
    );
    assert.ok(await getReport(cp, NS, plural, "kept"), `${plural}/kept`);
  }
});
