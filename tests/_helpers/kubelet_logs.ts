/**
 * The kubelet endpoint `kubectl logs` goes through: kube-apiserver proxies
 * `pods/<p>/log` to `https://<node address>:<kubelet port>/containerLogs/
 * <ns>/<pod>/<container>`. This tiny HTTPS server answers those from the
 * test kubelet's log files, and the fake nodes are pointed at it.
 */

import assert from "node:assert/strict";
import type { ControlPlane } from "../k8s/testenv.ts";
import type { TestKubelet } from "../k8s/test_kubelet.ts";

/**
 * Serves the container logs of `kubelet` for `nodes` (their status gets
 * this server's address and port); dispose to stop it.
 */
export async function serveKubeletLogs(
  cp: ControlPlane,
  kubelet: TestKubelet,
  nodes: readonly string[],
): Promise<AsyncDisposable & { pointAt(node: string): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "kcm-fake-kubelet-" });
  const openssl = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      `${dir}/key.pem`,
      "-out",
      `${dir}/cert.pem`,
      "-days",
      "1",
      "-subj",
      "/CN=kubelet",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    stdout: "null",
    stderr: "null",
  }).output();
  assert.ok(openssl.success);
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: await Deno.readTextFile(`${dir}/cert.pem`),
    key: await Deno.readTextFile(`${dir}/key.pem`),
    onListen() {},
  }, async (request) => {
    const url = new URL(request.url);
    const match = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(
      url.pathname,
    );
    if (!match) return new Response("not found", { status: 404 });
    let text: string;
    try {
      text = await kubelet.logs(match[1]!, match[2]!, match[3]!);
    } catch (error) {
      return new Response(String(error), { status: 404 });
    }
    const tail = Number(url.searchParams.get("tailLines") ?? "0");
    const lines = text.trimEnd().split("\n");
    return new Response(
      (tail > 0 ? lines.slice(-tail) : lines).join("\n") + "\n",
    );
  });
  const pointAt = async (node: string) => {
    const r = await cp.api("PATCH", `/api/v1/nodes/${node}/status`, {
      status: {
        addresses: [{ type: "InternalIP", address: "127.0.0.1" }],
        daemonEndpoints: { kubeletEndpoint: { Port: server.addr.port } },
      },
    }, { contentType: "application/merge-patch+json" });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  };
  for (const node of nodes) await pointAt(node);
  return {
    pointAt,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
