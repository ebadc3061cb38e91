import assert from "node:assert/strict";
import {
  inClusterServer,
  kubeconfigPaths,
  loadClientConfig,
} from "../../../core/k8s/config.ts";
import { kubeconfigText as kubeconfig } from "../../_helpers/kubeconfig_text.ts";

function files(map: Record<string, string>) {
  const read: string[] = [];
  return {
    read,
    reader: (path: string) => {
      read.push(path);
      return path in map
        ? Promise.resolve(map[path]!)
        : Promise.reject(new Deno.errors.NotFound(path));
    },
  };
}

Deno.test("inClusterServer() brackets IPv6 hosts only", () => {
  assert.equal(inClusterServer("10.96.0.1", "443"), "https://10.96.0.1:443");
  assert.equal(inClusterServer("fd00::1", "6443"), "https://[fd00::1]:6443");
});

Deno.test("kubeconfigPaths() lists KUBECONFIG's files, else HOME's", () => {
  assert.deepEqual(kubeconfigPaths({ KUBECONFIG: ":/a:/b:/a", HOME: "/h" }), [
    "/a",
    "/b",
  ]);
  assert.deepEqual(kubeconfigPaths({ HOME: "/h/" }), ["/h/.kube/config"]);
  assert.deepEqual(kubeconfigPaths({ KUBECONFIG: "", HOME: "/h" }), [
    "/h/.kube/config",
  ]);
  assert.deepEqual(kubeconfigPaths({}), []);
});

/** Two kubeconfigs as kubectl users split them: credentials apart. */
const SPLIT = {
  "/home/me/.kube/clusters": `
current-context: staging
contexts:
- name: prod
  context: {cluster: prod, user: admin, namespace: kcm-system}
- name: staging
  context: {cluster: staging, user: admin}
clusters:
- name: prod
  cluster: {server: "https://prod:6443", certificate-authority: prod-ca.pem}
- name: staging
  cluster: {server: "https://staging:6443"}
`,
  "/secrets/users": `
current-context: prod
contexts:
- name: staging
  context: {cluster: nowhere, user: nobody}
users:
- name: admin
  user: {tokenFile: admin.token}
`,
  "/home/me/.kube/prod-ca.pem": "PROD CA",
  "/secrets/admin.token": "admin-token\n",
};

Deno.test("loadClientConfig() merges KUBECONFIG files like kubectl", async () => {
  const { reader } = files(SPLIT);
  const env = {
    KUBECONFIG: "/missing:/home/me/.kube/clusters:/secrets/users",
  };
  // current-context from the first file that sets it; the first file to
  // name a context wins it; relative paths follow the file that named them.
  const staging = await loadClientConfig(env, reader);
  assert.equal(staging.server, "https://staging:6443");
  assert.equal(staging.token, "admin-token");
  assert.equal(staging.namespace, "default");
  assert.equal(staging.source, "/home/me/.kube/clusters");
  const prod = await loadClientConfig(env, reader, { context: "prod" });
  assert.equal(prod.server, "https://prod:6443");
  assert.equal(prod.caPem, "PROD CA");
  assert.equal(prod.namespace, "kcm-system");
});

Deno.test("--kubeconfig and --context win over in-cluster and KUBECONFIG", async () => {
  const { reader, read } = files({
    ...SPLIT,
    "/only": kubeconfig("    server: https://only:1", "    token: only"),
  });
  const inCluster = {
    KUBERNETES_SERVICE_HOST: "10.0.0.1",
    KUBERNETES_SERVICE_PORT: "443",
    KUBECONFIG: "/home/me/.kube/clusters:/secrets/users",
  };
  const only = await loadClientConfig(inCluster, reader, {
    kubeconfig: "/only",
  });
  assert.equal(only.server, "https://only:1");
  assert.deepEqual(read, ["/only"]);
  const prod = await loadClientConfig(inCluster, reader, { context: "prod" });
  assert.equal(prod.server, "https://prod:6443");
});

Deno.test("loadClientConfig() reads the service account in a pod", async () => {
  const { reader } = files({
    "/sa/token": "tok-123\n",
    "/sa/ca.crt": "CA",
    "/sa/namespace": "kcm-system\n",
  });
  const config = await loadClientConfig({
    KUBERNETES_SERVICE_HOST: "fd00::1",
    KUBERNETES_SERVICE_PORT: "443",
    KCM_SERVICE_ACCOUNT_DIR: "/sa/",
    KUBECONFIG: "/ignored",
  }, reader);
  assert.equal(config.server, "https://[fd00::1]:443");
  assert.equal(config.token, "tok-123");
  assert.equal(config.caPem, "CA");
  assert.equal(config.namespace, "kcm-system");
});

Deno.test("loadClientConfig() reads kubeconfig files it references", async () => {
  const { reader, read } = files({
    "/k/config": kubeconfig(
      "    server: https://h:1\n    certificate-authority: ca.pem",
      "    tokenFile: /secret/t",
    ),
    "/k/ca.pem": "CA FILE",
    "/secret/t": "file-token\n",
  });
  const config = await loadClientConfig({ KUBECONFIG: "/k/config:/x" }, reader);
  // "/x" does not exist: skipped, as kubectl skips it.
  assert.deepEqual(read, ["/k/config", "/x", "/secret/t", "/k/ca.pem"]);
  assert.equal(config.caPem, "CA FILE");
  assert.equal(config.token, "file-token");
  assert.equal(config.namespace, "default");
  assert.equal(config.source, "/k/config");
});

// Negative cases.
Deno.test("loadClientConfig() names what is missing", async () => {
  const { reader } = files({ "/sa/token": "t", ...SPLIT });
  await assert.rejects(
    loadClientConfig({ KUBECONFIG: "/nope:/gone" }, reader),
    /None of the kubeconfig files of KUBECONFIG exists: \/nope, \/gone/,
  );
  await assert.rejects(
    loadClientConfig({}, reader, { kubeconfig: "/nope" }),
    /Cannot read kubeconfig \/nope/,
  );
  await assert.rejects(
    loadClientConfig(
      { KUBECONFIG: "/home/me/.kube/clusters:/secrets/users" },
      reader,
      { context: "qa" },
    ),
    /Kubeconfig \/home\/me\/.kube\/clusters:\/secrets\/users has no context "qa"/,
  );
  await assert.rejects(
    loadClientConfig({ HOME: "/nohome" }, reader),
    /Cannot read kubeconfig \/nohome\/.kube\/config/,
  );
  await assert.rejects(
    loadClientConfig({}, reader),
    /KUBERNETES_SERVICE_HOST, KUBECONFIG and HOME are all unset/,
  );
  await assert.rejects(
    loadClientConfig({ KUBERNETES_SERVICE_HOST: "h" }, reader),
    /KUBERNETES_SERVICE_PORT is not/,
  );
  await assert.rejects(
    loadClientConfig({
      KUBERNETES_SERVICE_HOST: "h",
      KUBERNETES_SERVICE_PORT: "1",
      KCM_SERVICE_ACCOUNT_DIR: "/none",
    }, reader),
    /Cannot read the service account token file \/none\/token/,
  );
});
