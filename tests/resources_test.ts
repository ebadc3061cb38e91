/**
 * Every manifest in resources/ is accepted by a real kube-apiserver
 * (server-side dry run after the RBAC is applied for real), and the shipped
 * CRDs are exactly what kcm creates itself.
 */

import assert from "node:assert/strict";
import { reportCrd } from "../core/k8s/report_objects.ts";
import { daemonSet } from "../core/k8s/workloads.ts";
import {
  applyObject,
  type K8sObject,
  readManifest,
} from "./_helpers/k8s_manifests.ts";
import { REPO_ROOT } from "./_helpers/run_cli.ts";
import { createNamespace, startControlPlane } from "./k8s/testenv.ts";

async function manifestFiles(): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(`${REPO_ROOT}/resources`)) {
    if (entry.isFile && /\.ya?ml$/.test(entry.name)) files.push(entry.name);
  }
  return files.sort();
}

Deno.test("resources/ CRDs equal the ones kcm creates", async () => {
  assert.deepEqual(await readManifest("crd-nodereports.yaml"), [
    reportCrd("NodeReport"),
  ]);
  assert.deepEqual(await readManifest("crd-reconcilereports.yaml"), [
    reportCrd("ReconcileReport"),
  ]);
});

Deno.test("resources/kcm-daemonset.yaml runs what cluster-init runs", async () => {
  const [shipped] = await readManifest("kcm-daemonset.yaml");
  const built = daemonSet(["n"], ["reconcile", "nodereport"], {
    image: "kcm",
    pullPolicy: "Never",
    confDir: "/etc/kcm",
    installDir: "/opt/bin",
    numDpCores: 4,
    numCpCores: 1,
  }) as K8sObject;
  assert.deepEqual(
    shipped!.spec.template.spec.containers,
    built.spec.template.spec.containers,
  );
  assert.deepEqual(
    shipped!.spec.template.spec.volumes,
    built.spec.template.spec.volumes,
  );
  assert.deepEqual(shipped!.spec.selector, built.spec.selector);
});

Deno.test("resources/rbac-kcm-system.yaml differs from rbac.yaml only in namespace", async () => {
  const plain = await readManifest("rbac.yaml");
  const system = await readManifest("rbac-kcm-system.yaml");
  const strip = (objects: K8sObject[]) =>
    JSON.parse(
      JSON.stringify(objects, (k, v) => k === "namespace" ? undefined : v),
    );
  assert.deepEqual(strip(system), strip(plain));
  assert.equal(system[0]!.metadata.namespace, "kcm-system");
  assert.equal(system[2]!.subjects[0].namespace, "kcm-system");
});

Deno.test("every manifest in resources/ is accepted by the API server", async (t) => {
  await using cp = await startControlPlane();
  await createNamespace(cp, "kcm-system");
  // The pods name ServiceAccount kcm, which admission wants to exist.
  for (const object of await readManifest("rbac.yaml")) {
    const r = await applyObject(cp, object, { namespace: "default" });
    assert.ok(r.status < 300, JSON.stringify(r.body));
  }
  const files = await manifestFiles();
  assert.ok(files.length >= 7, files.join(", "));
  for (const file of files) {
    await t.step(file, async () => {
      const objects = await readManifest(file);
      assert.ok(objects.length > 0);
      for (const object of objects) {
        const r = await applyObject(cp, object, {
          namespace: "default",
          dryRun: true,
        });
        assert.ok(
          r.status === 200 || r.status === 201,
          `${object.kind} ${object.metadata.name}: HTTP ${r.status} ${
            JSON.stringify(r.body)
          }`,
        );
      }
    });
  }
});
