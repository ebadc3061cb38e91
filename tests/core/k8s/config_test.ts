import assert from "node:assert/strict";
import {
  inClusterServer,
  kubeconfigPath,
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

Deno.test("kubeconfigPath() takes the first KUBECONFIG entry, else HOME", () => {
  assert.equal(kubeconfigPath({ KUBECONFIG: ":/a:/b", HOME: "/h" }), "/a");
  assert.equal(kubeconfigPath({ HOME: "/h/" }), "/h/.kube/config");
  assert.equal(kubeconfigPath({}), undefined);
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
  assert.deepEqual(read, ["/k/config", "/secret/t", "/k/ca.pem"]);
  assert.equal(config.caPem, "CA FILE");
  assert.equal(config.token, "file-token");
  assert.equal(config.namespace, "default");
  assert.equal(config.source, "/k/config");
});

// Negative cases.
Deno.test("loadClientConfig() names what is missing", async () => {
  const { reader } = files({ "/sa/token": "t" });
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
