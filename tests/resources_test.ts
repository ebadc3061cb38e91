/**
 * Every manifest in resources/ is accepted by a real kube-apiserver
 * (server-side dry run after the namespace, CRDs, RBAC and admission
 * policy are applied for real), the admission policies type-check against
 * the server's schemas, and the generated manifests (CRDs, the DaemonSet)
 * are exactly what the code builds.
 */

import assert from "node:assert/strict";
import { reportCrd } from "../core/k8s/report_objects.ts";
import { stringify as stringifyYaml } from "yaml";
import {
  DAEMON_CONTAINERS,
  daemonSet,
  DEFAULT_SETTINGS,
} from "../core/k8s/workloads.ts";
import { webhookManifest } from "../core/k8s/webhook_objects.ts";
import {
  applyManifests,
  applyObject,
  KCM_NAMESPACE,
  readManifest,
  SETUP_MANIFESTS,
} from "./_helpers/k8s_manifests.ts";
import { REPO_ROOT } from "./_helpers/run_cli.ts";
import { waitFor } from "./_helpers/wait.ts";
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

/** Set to rewrite the generated manifests from the code, on purpose. */
const WRITE = Deno.env.get("KCM_WRITE_MANIFESTS") === "1";

/** With KCM_WRITE_MANIFESTS=1: rewrites `file` as `objects`, keeping its header comment. */
async function writeManifest(file: string, objects: unknown[]): Promise<void> {
  if (!WRITE) return;
  const path = `${REPO_ROOT}/resources/${file}`;
  const header = (await Deno.readTextFile(path)).split("\n")
    .filter((line, i, all) =>
      line.startsWith("#") && all.slice(0, i).every((l) => l.startsWith("#"))
    );
  const documents = objects.map((object) =>
    stringifyYaml(object, { lineWidth: 0, aliasDuplicateObjects: false })
  );
  await Deno.writeTextFile(
    path,
    `${header.join("\n")}\n${documents.join("---\n")}`,
  );
}

Deno.test("resources/kcm-daemonset.yaml is what cluster-init applies", async () => {
  const built = daemonSet(DAEMON_CONTAINERS, DEFAULT_SETTINGS);
  await writeManifest("kcm-daemonset.yaml", [built]);
  assert.deepEqual(await readManifest("kcm-daemonset.yaml"), [built]);
});

Deno.test("resources/kcm-webhook.yaml is what cluster-init --webhook applies", async () => {
  const built = webhookManifest({
    namespace: KCM_NAMESPACE,
    image: DEFAULT_SETTINGS.image,
    pullPolicy: DEFAULT_SETTINGS.pullPolicy,
    confDir: DEFAULT_SETTINGS.confDir,
    installDir: DEFAULT_SETTINGS.installDir,
    caBundle: undefined,
  });
  await writeManifest("kcm-webhook.yaml", built);
  assert.deepEqual(await readManifest("kcm-webhook.yaml"), built);
});

Deno.test("every manifest in resources/ is accepted by the API server", async (t) => {
  // The status controller type-checks admission policies against the
  // server's schemas (a typo in a field name shows up there).
  await using cp = await startControlPlane({
    controllers: ["validatingadmissionpolicy-status-controller"],
    scheduler: false,
  });
  // What an operator applies first, for real; then every file dry-run.
  await applyManifests(cp, SETUP_MANIFESTS);
  await createNamespace(cp, KCM_NAMESPACE); // its default ServiceAccount
  const files = await manifestFiles();
  assert.ok(files.length >= 8, files.join(", "));
  for (const file of files) {
    await t.step(file, async () => {
      const objects = await readManifest(file);
      assert.ok(objects.length > 0);
      for (const object of objects) {
        const r = await applyObject(cp, object, {
          namespace: KCM_NAMESPACE,
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
  await t.step("the admission policies type-check", async () => {
    for (const name of ["kcm-node-agent-nodes", "kcm-node-agent-objects"]) {
      const policy = await waitFor(`policy ${name} checked`, async () => {
        const r = await cp.api(
          "GET",
          `/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/${name}`,
        );
        return r.body?.status?.typeChecking ? r.body : undefined;
      });
      assert.deepEqual(policy.status.typeChecking, {}, name);
    }
  });
});

Deno.test("the cluster-init pod runs as the installer, in kcm's namespace", async () => {
  const [pod] = await readManifest("kcm-cluster-init-pod.yaml");
  assert.equal(pod!.metadata.namespace, KCM_NAMESPACE);
  assert.equal(pod!.spec.serviceAccountName, "kcm-installer");
  const [container] = pod!.spec.containers;
  assert.deepEqual(container.securityContext.capabilities, { drop: ["ALL"] });
  assert.equal(pod!.spec.securityContext.runAsNonRoot, true);
  assert.ok(container.resources.limits.memory);
  assert.ok(
    pod!.spec.volumes.every((v: { hostPath?: unknown }) => !v.hostPath),
    "it needs no host path",
  );
});
