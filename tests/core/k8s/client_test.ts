/**
 * Failure modes of the client a real API server will not produce on
 * demand (503 storms, 429, non-JSON answers, a closed port), against a
 * throwaway HTTP server on 127.0.0.1. Behaviour against the real
 * kube-apiserver is tested in apiserver_test.ts.
 */

import assert from "node:assert/strict";
import {
  createK8sClient,
  LOOP_RETRY,
  ONE_SHOT_RETRY,
  retryOnConflict,
} from "../../../core/k8s/client.ts";
import type { ClientConfig } from "../../../core/k8s/config.ts";
import { K8sApiError, K8sConfigError } from "../../../core/k8s/errors.ts";
import { createLogger } from "../../../core/log.ts";

const TOKEN = "s3cret-token-value";

function config(server: string): ClientConfig {
  return {
    server,
    caPem: undefined,
    insecureSkipTlsVerify: false,
    token: TOKEN,
    clientCertPem: undefined,
    clientKeyPem: undefined,
    namespace: "default",
    source: "test",
  };
}

function logger() {
  const lines: string[] = [];
  return { lines, log: createLogger("DEBUG", (l) => lines.push(l)) };
}

async function withServer(
  handler: (request: Request, n: number) => Response | Promise<Response>,
  body: (url: string, calls: Request[]) => Promise<void>,
): Promise<void> {
  const calls: Request[] = [];
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      calls.push(request);
      return handler(request, calls.length);
    },
  );
  await body(`http://127.0.0.1:${server.addr.port}`, calls);
}

const noSleep = () => Promise.resolve();

Deno.test("createK8sClient() sends JSON with the token and query", async () => {
  await withServer(
    async (request) =>
      Response.json({
        got: await request.json(),
        url: request.url,
        type: request.headers.get("content-type"),
        auth: request.headers.get("authorization") === `Bearer ${TOKEN}`,
      }),
    async (url) => {
      const { log, lines } = logger();
      const client = createK8sClient(config(url), { log });
      const answer = await client.request<Record<string, unknown>>(
        "PATCH",
        "/api/v1/nodes/n1",
        {
          body: [{ op: "add" }],
          contentType: "application/json-patch+json",
          query: { dryRun: "All", skip: undefined },
        },
      );
      client.close();
      assert.deepEqual(answer, {
        got: [{ op: "add" }],
        url: `${url}/api/v1/nodes/n1?dryRun=All`,
        type: "application/json-patch+json",
        auth: true,
      });
      assert.match(lines.join(""), /DEBUG:root:PATCH .*\/nodes\/n1.* -> 200/);
      assert.doesNotMatch(lines.join(""), new RegExp(TOKEN));
    },
  );
});

Deno.test("createK8sClient() retries a 503 storm then succeeds", async () => {
  await withServer(
    (_r, n) =>
      n <= 3 ? new Response("busy", { status: 503 }) : Response.json({ n }),
    async (url, calls) => {
      const delays: number[] = [];
      const client = createK8sClient(config(url), {
        log: logger().log,
        sleep: (ms) => (delays.push(ms), Promise.resolve()),
      });
      assert.deepEqual(await client.request("GET", "/version"), { n: 4 });
      client.close();
      assert.equal(calls.length, 4);
      assert.equal(delays.length, 3);
      assert.ok(delays[2]! > delays[0]!, `backoff grows: ${delays}`);
    },
  );
});

Deno.test("createK8sClient() gives up after a bounded number of attempts", async () => {
  for (const retry of [ONE_SHOT_RETRY, LOOP_RETRY]) {
    await withServer(
      () => new Response("", { status: 429 }),
      async (url, calls) => {
        const client = createK8sClient(config(url), {
          log: logger().log,
          retry,
          sleep: noSleep,
        });
        await assert.rejects(
          client.request("GET", "/api/v1/nodes"),
          (e) => e instanceof K8sApiError && e.status === 429,
        );
        client.close();
        assert.equal(calls.length, retry.attempts);
      },
    );
  }
});

Deno.test("createK8sClient() turns a Status body into a one-line error", async () => {
  await withServer(
    () =>
      Response.json({
        kind: "Status",
        status: "Failure",
        reason: "Forbidden",
        message:
          'nodes "n1" is forbidden: User "x" cannot patch resource "nodes/status"',
        code: 403,
      }, { status: 403 }),
    async (url, calls) => {
      const client = createK8sClient(config(url), {
        log: logger().log,
        sleep: noSleep,
      });
      const error = await client.request("PATCH", "/api/v1/nodes/n1/status")
        .catch((e) => e);
      client.close();
      assert.ok(error instanceof K8sApiError);
      assert.equal(calls.length, 1, "a 403 is not retried");
      assert.equal(error.reason, "Forbidden");
      assert.equal(
        error.message,
        'PATCH /api/v1/nodes/n1/status: 403 Forbidden: nodes "n1" is forbidden: User "x" cannot patch resource "nodes/status"',
      );
    },
  );
});

Deno.test("createK8sClient() keeps the first line of a non-JSON error", async () => {
  await withServer(
    () => new Response("<html>bad gateway\nmore", { status: 418 }),
    async (url) => {
      const client = createK8sClient(config(url), { log: logger().log });
      await assert.rejects(
        client.request("GET", "/x"),
        (e) =>
          e instanceof K8sApiError &&
          e.message === "GET /x: 418: <html>bad gateway",
      );
      client.close();
    },
  );
});

Deno.test("createK8sClient() names the URL when it cannot connect", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const { log, lines } = logger();
  const delays: number[] = [];
  const client = createK8sClient(config(`http://127.0.0.1:${port}`), {
    log,
    sleep: (ms) => (delays.push(ms), Promise.resolve()),
  });
  const error = await client.request("GET", "/api/v1/nodes").catch((e) => e);
  client.close();
  assert.ok(error instanceof K8sApiError);
  assert.equal(error.status, 0);
  assert.match(
    error.message,
    new RegExp(`cannot reach the API server at http://127.0.0.1:${port}`),
  );
  assert.equal(delays.length, ONE_SHOT_RETRY.attempts - 1);
  assert.doesNotMatch(lines.join("") + error.message, new RegExp(TOKEN));
});

// Negative cases.
Deno.test("createK8sClient() refuses insecure-skip-tls-verify", () => {
  assert.throws(
    () =>
      createK8sClient({ ...config("https://h"), insecureSkipTlsVerify: true }, {
        log: logger().log,
      }),
    (e) => e instanceof K8sConfigError && /always verifies/.test(e.message),
  );
});

Deno.test("retryOnConflict() reruns on 409 only, bounded", async () => {
  const conflict = () =>
    new K8sApiError({
      method: "PATCH",
      path: "/p",
      status: 409,
      reason: "Conflict",
      detail: "c",
    });
  let n = 0;
  assert.equal(
    await retryOnConflict(() => {
      n++;
      return n < 3 ? Promise.reject(conflict()) : Promise.resolve("done");
    }, { sleep: noSleep }),
    "done",
  );
  assert.equal(n, 3);
  n = 0;
  await assert.rejects(
    retryOnConflict(() => (n++, Promise.reject(conflict())), {
      attempts: 4,
      sleep: noSleep,
    }),
    /409 Conflict/,
  );
  assert.equal(n, 4);
  n = 0;
  await assert.rejects(
    retryOnConflict(() => (n++, Promise.reject(new Error("other"))), {
      sleep: noSleep,
    }),
    /other/,
  );
  assert.equal(n, 1);
});
