/**
 * `kcm cluster-init --webhook` against a real API server, run as the
 * installer ServiceAccount with the shipped RBAC plus
 * resources/rbac-webhook.yaml: the webhook's Secrets, Service, Deployment,
 * PodDisruptionBudget and configuration exist, caBundle is the CA that
 * signed the serving certificate for the Service's name (checked with
 * node:crypto and, independently, with openssl), a rerun changes no
 * object, a serving certificate near its end is renewed under the same CA
 * without touching caBundle, and a broken CA is replaced with the old one
 * kept in the bundle while it is valid.
 */

import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { parse } from "../../commands/cluster_init.ts";
import { issueServingCertificate } from "../../core/certificate_authority.ts";
import { splitPem } from "../../core/webhook_tls.ts";
import { commandLine } from "../_helpers/cluster_cli.ts";
import {
  applyManifests,
  installKcmIdentities,
  KCM_NAMESPACE,
} from "../_helpers/k8s_manifests.ts";
import { runKcm } from "../_helpers/run_cli.ts";
import { openssl } from "../_helpers/tls.ts";
import { createNode, startControlPlane } from "../k8s/testenv.ts";

const NS = KCM_NAMESPACE;
const SERVICE_NAME = `kcm-webhook.${NS}.svc`;
const PATHS = {
  caSecret: `/api/v1/namespaces/${NS}/secrets/kcm-webhook-ca`,
  tlsSecret: `/api/v1/namespaces/${NS}/secrets/kcm-webhook-tls`,
  service: `/api/v1/namespaces/${NS}/services/kcm-webhook`,
  deployment: `/apis/apps/v1/namespaces/${NS}/deployments/kcm-webhook`,
  pdb: `/apis/policy/v1/namespaces/${NS}/poddisruptionbudgets/kcm-webhook`,
  config:
    "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/kcm-webhook",
} as const;

const text = (base64: string) =>
  new TextDecoder().decode(
    Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)),
  );

Deno.test("parse() of cluster-init takes --webhook", () => {
  const on = parse(commandLine("cluster-init", ["--all-hosts", "--webhook"]));
  assert.equal(on.webhook, true);
  const off = parse(commandLine("cluster-init", ["--all-hosts"]));
  assert.equal(off.webhook, false);
});

Deno.test("cluster-init --webhook deploys the webhook with its own CA, and reruns safely", async (t) => {
  await using cp = await startControlPlane({ scheduler: false });
  const kcm = await installKcmIdentities(cp);
  await applyManifests(cp, ["rbac-webhook.yaml"]);
  await createNode(cp, "node-1");
  const dir = await Deno.makeTempDir({ prefix: "kcm-webhook-init-" });
  const clusterInit = (extra: string[] = []) =>
    runKcm([
      "cluster-init",
      "--host-list=node-1",
      "--kcm-cmd-list=reconcile",
      "--webhook",
      "--timeout=60",
      ...extra,
    ], { env: kcm.installer.inClusterEnv });
  // deno-lint-ignore no-explicit-any
  const get = async (path: string): Promise<any> => {
    const answer = await cp.api("GET", path);
    assert.equal(answer.status, 200, `${path}: ${JSON.stringify(answer.body)}`);
    return answer.body;
  };
  const versions = async () =>
    Object.fromEntries(
      await Promise.all(
        Object.entries(PATHS).map(async ([key, path]) => [
          key,
          (await get(path)).metadata.resourceVersion,
        ]),
      ),
    );
  /** Checks the serving certificate against caBundle; returns both PEMs. */
  const checkChain = async () => {
    const secret = await get(PATHS.tlsSecret);
    const config = await get(PATHS.config);
    const caBundle = text(config.webhooks[0].clientConfig.caBundle);
    assert.equal(text(secret.data["ca.crt"]), caBundle);
    const servingPem = text(secret.data["tls.crt"]);
    const serving = new X509Certificate(servingPem);
    const ca = new X509Certificate(splitPem(caBundle)[0]!);
    assert.ok(ca.ca);
    assert.ok(serving.verify(ca.publicKey), "signed by the bundle's CA");
    assert.equal(serving.checkHost(SERVICE_NAME), SERVICE_NAME);
    assert.equal(serving.checkHost("kcm-webhook.other.svc"), undefined);
    // The same, by an independent verifier.
    await Deno.writeTextFile(join(dir, "bundle.crt"), caBundle);
    await Deno.writeTextFile(join(dir, "serving.crt"), servingPem);
    await openssl(dir, [
      "verify",
      "-x509_strict",
      "-purpose",
      "sslserver",
      "-verify_hostname",
      SERVICE_NAME,
      "-CAfile",
      "bundle.crt",
      "serving.crt",
    ]);
    return { caBundle, servingPem };
  };

  try {
    let first!: { caBundle: string; servingPem: string };
    await t.step("a first run creates every object", async () => {
      const result = await clusterInit();
      assert.equal(result.code, 0, result.stderr);
      for (
        const object of [
          `Secret ${NS}/kcm-webhook-ca`,
          `Secret ${NS}/kcm-webhook-tls`,
          `Service ${NS}/kcm-webhook`,
          `Deployment ${NS}/kcm-webhook`,
          `PodDisruptionBudget ${NS}/kcm-webhook`,
          "MutatingWebhookConfiguration kcm-webhook",
        ]
      ) {
        assert.match(
          result.stderr,
          new RegExp(`INFO:root:${object} created\n`),
        );
      }
      assert.match(result.stderr, /Webhook: new CA, as there was none/);
      first = await checkChain();
      const deployment = await get(PATHS.deployment);
      const [container] = deployment.spec.template.spec.containers;
      assert.deepEqual(container.command, [
        "/usr/local/bin/kcm",
        "webhook",
        "--conf-dir=/etc/kcm",
        "--install-dir=/opt/bin",
        "--tls-cert=/etc/kcm-webhook/tls/tls.crt",
        "--tls-key=/etc/kcm-webhook/tls/tls.key",
        "--listen=0.0.0.0:8443",
      ]);
      assert.equal(
        deployment.spec.template.spec.volumes[0].secret.secretName,
        "kcm-webhook-tls",
      );
      const config = await get(PATHS.config);
      assert.deepEqual(config.webhooks[0].clientConfig.service, {
        name: "kcm-webhook",
        namespace: NS,
        path: "/mutate",
        port: 443,
      });
      assert.deepEqual(
        config.webhooks[0].namespaceSelector.matchExpressions[0].values,
        [NS, "kube-system"],
      );
      assert.equal(config.webhooks[0].failurePolicy, "Fail");
    });

    await t.step("a rerun changes no object", async () => {
      const before = await versions();
      const result = await clusterInit();
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(await versions(), before);
      assert.equal(
        result.stderr.match(/INFO:root:\S+ \S*kcm-webhook\S* unchanged\n/g)
          ?.length,
        6,
        result.stderr,
      );
      assert.doesNotMatch(result.stderr, /Webhook: new/);
      assert.deepEqual(await checkChain(), first);
    });

    await t.step(
      "a serving certificate 10 days from its end is renewed under the same CA",
      async () => {
        const caSecret = await get(PATHS.caSecret);
        const ca = {
          certPem: text(caSecret.data["tls.crt"]),
          keyPem: text(caSecret.data["tls.key"]),
        };
        const now = Date.now();
        const short = await issueServingCertificate(ca, {
          commonName: SERVICE_NAME,
          dnsNames: [SERVICE_NAME, `${SERVICE_NAME}.cluster.local`],
          notBefore: new Date(now - 3_600_000),
          notAfter: new Date(now + 10 * 86_400_000),
        });
        const put = await cp.api("PATCH", PATHS.tlsSecret, {
          data: {
            "tls.crt": btoa(short.certPem),
            "tls.key": btoa(short.keyPem),
          },
        }, { contentType: "application/merge-patch+json" });
        assert.equal(put.status, 200, JSON.stringify(put.body));
        const before = await versions();
        const result = await clusterInit();
        assert.equal(result.code, 0, result.stderr);
        assert.match(
          result.stderr,
          /Webhook: new serving certificate, as the stored one ends on \d{4}-\d\d-\d\d\n/,
        );
        const after = await versions();
        assert.notEqual(after.tlsSecret, before.tlsSecret);
        const { tlsSecret: _a, ...keptAfter } = after;
        const { tlsSecret: _b, ...keptBefore } = before;
        assert.deepEqual(
          keptAfter,
          keptBefore,
          "CA, caBundle and the rest kept",
        );
        const renewed = await checkChain();
        assert.equal(renewed.caBundle, first.caBundle);
        assert.notEqual(renewed.servingPem, first.servingPem);
        const days = (new X509Certificate(renewed.servingPem).validToDate
          .getTime() - now) / 86_400_000;
        assert.ok(days > 360, `valid for ${days} days`);
      },
    );

    await t.step(
      "a CA whose key was lost is replaced; the old CA stays in caBundle",
      async () => {
        const put = await cp.api("PATCH", PATHS.caSecret, {
          data: { "tls.key": btoa("not a key") },
        }, { contentType: "application/merge-patch+json" });
        assert.equal(put.status, 200, JSON.stringify(put.body));
        const result = await clusterInit();
        assert.equal(result.code, 0, result.stderr);
        assert.match(
          result.stderr,
          /Webhook: new CA, as the stored key does not belong to it\n/,
        );
        const { caBundle } = await checkChain();
        const cas = splitPem(caBundle);
        assert.equal(cas.length, 2);
        assert.equal(cas[1], first.caBundle, "the old CA, second");
      },
    );

    await t.step(
      "a rerun keeps the Deployment's image and directories unless the flags give them",
      async () => {
        const container = async () =>
          (await get(PATHS.deployment)).spec.template.spec.containers[0];
        const given = await clusterInit([
          "--kcm-img=registry.example/kcm:2",
          "--kcm-img-pol=IfNotPresent",
          "--install-dir=/usr/local/bin",
        ]);
        assert.equal(given.code, 0, given.stderr);
        const before = await container();
        assert.equal(before.image, "registry.example/kcm:2");
        assert.equal(before.imagePullPolicy, "IfNotPresent");
        assert.ok(before.command.includes("--install-dir=/usr/local/bin"));
        const version = (await get(PATHS.deployment)).metadata.resourceVersion;
        // Defaults only: nothing of the running webhook changes.
        const defaults = await clusterInit();
        assert.equal(defaults.code, 0, defaults.stderr);
        assert.deepEqual(await container(), before);
        assert.equal(
          (await get(PATHS.deployment)).metadata.resourceVersion,
          version,
        );
        assert.match(
          defaults.stderr,
          /Deployment kcm-system\/kcm-webhook unchanged/,
        );
      },
    );

    await t.step(
      "without the optional rights, a 403 names what is missing",
      async () => {
        await cp.api(
          "DELETE",
          `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings/kcm-installer-webhook`,
        );
        const result = await clusterInit();
        assert.equal(result.code, 1, result.stderr);
        assert.match(
          result.stderr,
          /kcm: error: cluster-init: GET \/api\/v1\/namespaces\/kcm-system\/secrets\/kcm-webhook-ca: 403 Forbidden: .*\nhint: grant system:serviceaccount:kcm-system:kcm-installer "get" on "secrets" in namespace kcm-system: apply the installer's webhook roles in resources\/rbac-webhook.yaml/,
        );
      },
    );

    const clusterUninstall = () =>
      runKcm(["cluster-uninstall", "--all-hosts", "--timeout=60"], {
        env: { ...kcm.installer.inClusterEnv, KCM_LOG_LEVEL: "INFO" },
      });
    const gone = async (path: string) =>
      assert.equal((await cp.api("GET", path)).status, 404, path);
    const present = async (path: string) =>
      assert.equal((await cp.api("GET", path)).status, 200, path);

    await t.step(
      "cluster-uninstall without those rights deletes the configuration and names what it leaves",
      async () => {
        // No node to uninstall: the cluster objects' part runs alone.
        await cp.api("PATCH", "/api/v1/nodes/node-1", {
          spec: { unschedulable: true },
        }, { contentType: "application/merge-patch+json" });
        const result = await clusterUninstall();
        assert.equal(result.code, 0, result.stderr);
        await gone(PATHS.config);
        for (
          const key of [
            "deployment",
            "pdb",
            "service",
            "tlsSecret",
            "caSecret",
          ] as const
        ) {
          await present(PATHS[key]);
        }
        assert.match(
          result.stderr,
          /INFO:root:Not deleted \(the installer has no rights to them, see resources\/rbac-webhook.yaml\): Deployment kcm-system\/kcm-webhook, PodDisruptionBudget kcm-system\/kcm-webhook, Service kcm-system\/kcm-webhook, Secret kcm-system\/kcm-webhook-tls, Secret kcm-system\/kcm-webhook-ca; if the webhook was deployed, delete them by hand\n/,
        );
      },
    );

    await t.step(
      "with them, cluster-uninstall deletes everything --webhook made, and a rerun finds nothing",
      async () => {
        await applyManifests(cp, ["rbac-webhook.yaml"]);
        const result = await clusterUninstall();
        assert.equal(result.code, 0, result.stderr);
        for (const path of Object.values(PATHS)) await gone(path);
        assert.match(
          result.stderr,
          /INFO:root:Deleted Deployment kcm-system\/kcm-webhook\n/,
        );
        assert.match(
          result.stderr,
          /INFO:root:Deleted Secret kcm-system\/kcm-webhook-ca\n/,
        );
        const again = await clusterUninstall();
        assert.equal(again.code, 0, again.stderr);
        assert.match(
          again.stderr,
          /INFO:root:Secret kcm-system\/kcm-webhook-ca was already gone\n/,
        );
        assert.doesNotMatch(again.stderr, /Not deleted/);
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
