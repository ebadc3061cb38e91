/**
 * The client says the cause: a rejected server certificate is named at
 * once and never retried, a plain `http://` server is refused unless
 * allowed, every request says `User-Agent: kcm/<version>`, and a 403
 * carries the hint for its cause. Certificate failures come from
 * throwaway HTTPS servers on 127.0.0.1 with certificates made for the run
 * (tests/_helpers/tls_certs.ts); the real API server's 403s are in
 * tests/security_test.ts.
 */

import assert from "node:assert/strict";
import {
  connectK8s,
  createK8sClient,
  USER_AGENT,
} from "../../../core/k8s/client.ts";
import type { ClientConfig } from "../../../core/k8s/config.ts";
import { K8sApiError, K8sConfigError } from "../../../core/k8s/errors.ts";
import { createLogger } from "../../../core/log.ts";
import { VERSION } from "../../../core/usage.ts";
import { FakeClock } from "../../_helpers/fake_clock.ts";
import { kubeconfigText } from "../../_helpers/kubeconfig_text.ts";
import { makeTestCertificates } from "../../_helpers/tls_certs.ts";

function config(server: string, caPem?: string): ClientConfig {
  return {
    server,
    caPem,
    insecureSkipTlsVerify: false,
    token: "t0ken",
    clientCertPem: undefined,
    clientKeyPem: undefined,
    namespace: "default",
    source: "/home/me/.kube/config",
  };
}

const log = createLogger("CRITICAL", () => {});

Deno.test("createK8sClient() names a certificate problem at once", async () => {
  await using certs = await makeTestCertificates();
  const cases = [
    {
      server: certs.servers.good,
      ca: certs.otherCaPem,
      kind: "unknown-authority",
      message:
        /TLS with https:\/\/127\.0\.0\.1:\d+ failed: the API server's certificate is signed by an unknown authority$/,
      hint:
        /give the CA that signed the server's certificate as certificate-authority\(-data\) in \/home\/me\/\.kube\/config/,
    },
    {
      server: certs.servers.wrongName,
      ca: certs.caPem,
      kind: "hostname-mismatch",
      message:
        /the API server's certificate is not valid for "127\.0\.0\.1" \(only for DnsName\("example\.com"\)\)$/,
      hint: /use a server address the certificate names/,
    },
    {
      server: certs.servers.expired,
      ca: certs.caPem,
      kind: "expired",
      message: /the API server's certificate expired on 2020-02-01T00:00:00Z$/,
      hint: /renew the API server's certificate/,
    },
    {
      server: certs.servers.future,
      ca: certs.caPem,
      kind: "not-yet-valid",
      message:
        /the API server's certificate is not valid yet \(from 2040-01-01T00:00:00Z\): check this machine's clock$/,
      hint: /correct the clock/,
    },
  ];
  for (const c of cases) {
    let handled = 0;
    await using server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      cert: c.server.cert,
      key: c.server.key,
      onListen() {},
      onError: () => new Response("", { status: 500 }),
    }, () => {
      handled++;
      return new Response("{}");
    });
    const clock = new FakeClock();
    const client = createK8sClient(
      config(`https://127.0.0.1:${server.addr.port}`, c.ca),
      { log, clock },
    );
    const error = await client.request("GET", "/api").catch((e) => e);
    client.close();
    assert.ok(error instanceof K8sApiError, String(error));
    assert.equal(error.tls?.kind, c.kind);
    assert.equal(error.status, 0);
    assert.match(error.message, c.message);
    assert.match(error.hint ?? "", c.hint);
    assert.deepEqual(clock.sleeps, [], `${c.kind} was retried`);
    assert.equal(handled, 0);
  }
});

Deno.test("createK8sClient() over TLS with the right CA works", async () => {
  await using certs = await makeTestCertificates();
  await using server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    ...certs.servers.good,
    onListen() {},
  }, () => Response.json({ ok: true }));
  const client = createK8sClient(
    config(`https://127.0.0.1:${server.addr.port}`, certs.caPem),
    { log, clock: new FakeClock() },
  );
  assert.deepEqual(await client.request("GET", "/api"), { ok: true });
  client.close();
});

Deno.test("every request says User-Agent: kcm/<version>", async () => {
  assert.equal(USER_AGENT, `kcm/${VERSION}`);
  const agents: (string | null)[] = [];
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      agents.push(request.headers.get("user-agent"));
      return agents.length < 3
        ? new Response("", { status: 503 })
        : Response.json({});
    },
  );
  const client = createK8sClient(
    config(`http://127.0.0.1:${server.addr.port}`),
    { log, clock: new FakeClock() },
  );
  await client.request("POST", "/x", { body: {} });
  await client.requestText("GET", "/y");
  client.close();
  assert.deepEqual(agents, Array(4).fill(`kcm/${VERSION}`));
});

Deno.test("a 403 carries the hint for its cause", async () => {
  const messages = [
    [
      'nodes "n1" is forbidden: User "system:serviceaccount:kcm-system:kcm-node-agent" cannot list resource "nodes" in API group "" at the cluster scope',
      /^grant system:serviceaccount:kcm-system:kcm-node-agent "list" on "nodes": apply the node agent's roles in resources\/rbac\.yaml/,
    ],
    [
      'pods "kcm-setup-n1" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes (volumes "host-proc", "host-sys")',
      /label the namespace pod-security\.kubernetes\.io\/enforce=privileged/,
    ],
    [
      'pods "kcm-setup-n1" is forbidden: error looking up service account kcm-system/kcm-node-agent: serviceaccount "kcm-node-agent" not found',
      /^create ServiceAccount kcm-system\/kcm-node-agent: kubectl apply -f resources\/rbac\.yaml$/,
    ],
    [
      `nodes "n2" is forbidden: ValidatingAdmissionPolicy 'kcm-node-agent-nodes' with binding 'kcm-node-agent-nodes' denied request: kcm node agent of node "n1" may not change node "n2"`,
      /may change only its own Node's kcm capacity, label and taint/,
    ],
  ] as const;
  let n = 0;
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () =>
      Response.json({
        kind: "Status",
        status: "Failure",
        reason: "Forbidden",
        message: messages[n++]![0],
        code: 403,
      }, { status: 403 }),
  );
  const client = createK8sClient(
    config(`http://127.0.0.1:${server.addr.port}`),
    { log, clock: new FakeClock() },
  );
  for (const [, hint] of messages) {
    const error = await client.request("GET", "/z").catch((e) => e);
    assert.ok(error instanceof K8sApiError);
    assert.equal(error.status, 403);
    assert.match(error.hint ?? "", hint);
  }
  client.close();
});

// Negative cases.
Deno.test("connectK8s() refuses a plain http:// server unless allowed", async () => {
  const files: Record<string, string> = {
    "/k/config": kubeconfigText(
      "    server: http://127.0.0.1:8080",
      "    token: clear-text",
    ),
  };
  const read = (path: string) =>
    path in files
      ? Promise.resolve(files[path]!)
      : Promise.reject(new Deno.errors.NotFound(path));
  await assert.rejects(
    connectK8s({ KUBECONFIG: "/k/config" }, {
      log,
      clock: new FakeClock(),
      read,
    }),
    (e) =>
      e instanceof K8sConfigError &&
      e.message ===
        '/k/config: server "http://127.0.0.1:8080" is plain HTTP; kcm does not send credentials in clear text' &&
      /--insecure-http/.test(e.hint ?? ""),
  );
  const client = await connectK8s({ KUBECONFIG: "/k/config" }, {
    log,
    clock: new FakeClock(),
    read,
    connection: { insecureHttp: true },
  });
  client.close();
});

Deno.test("an answer whose body cannot be read is an API error", async () => {
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () =>
      new Response("not gzip at all", {
        headers: {
          "content-encoding": "gzip",
          "content-type": "application/json",
        },
      }),
  );
  const client = createK8sClient(
    config(`http://127.0.0.1:${server.addr.port}`),
    { log, clock: new FakeClock() },
  );
  const error = await client.request("GET", "/api/v1/nodes").catch((e) => e);
  client.close();
  assert.ok(error instanceof K8sApiError, String(error));
  assert.match(
    error.message,
    /^GET \/api\/v1\/nodes: 200: the answer could not be read \(/,
  );
});
