/**
 * Failure modes of the client a real API server will not produce on
 * demand (503 storms, 429 with Retry-After, non-JSON answers, a closed
 * port), against a throwaway HTTP server on 127.0.0.1, with a fake clock
 * that records every wait. Behaviour against the real kube-apiserver is
 * tested in nodes_test.ts and the command tests (tests/commands/).
 */

import assert from "node:assert/strict";
import { createK8sClient } from "../../../core/k8s/client.ts";
import {
  LOOP_RETRY,
  ONE_SHOT_RETRY,
} from "../../../core/k8s/request_policy.ts";
import type { ClientConfig } from "../../../core/k8s/config.ts";
import { K8sApiError, K8sConfigError } from "../../../core/k8s/errors.ts";
import { createLogger } from "../../../core/log.ts";
import { FakeClock } from "../../_helpers/fake_clock.ts";
import { REPO_ROOT } from "../../_helpers/run_cli.ts";

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
      const client = createK8sClient(config(url), {
        log,
        clock: new FakeClock(),
      });
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
      const clock = new FakeClock();
      const client = createK8sClient(config(url), {
        log: logger().log,
        clock,
        random: () => 0,
      });
      assert.deepEqual(await client.request("GET", "/version"), { n: 4 });
      client.close();
      assert.equal(calls.length, 4);
      assert.deepEqual(clock.sleeps, [250, 500, 1000], "doubling from 250 ms");
    },
  );
});

Deno.test("createK8sClient() gives up after a bounded number of attempts", async () => {
  for (const retry of [ONE_SHOT_RETRY, LOOP_RETRY]) {
    await withServer(
      () => new Response("", { status: 429 }),
      async (url, calls) => {
        const clock = new FakeClock();
        const client = createK8sClient(config(url), {
          log: logger().log,
          retry,
          clock,
        });
        await assert.rejects(
          client.request("GET", "/api/v1/nodes"),
          (e) => e instanceof K8sApiError && e.status === 429,
        );
        client.close();
        assert.equal(calls.length, retry.attempts);
        assert.equal(clock.sleeps.length, retry.attempts - 1);
        assert.ok(
          clock.sleeps.every((ms) => ms <= retry.maxMs),
          `${clock.sleeps}`,
        );
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
      const clock = new FakeClock();
      const client = createK8sClient(config(url), { log: logger().log, clock });
      const error = await client.request("PATCH", "/api/v1/nodes/n1/status")
        .catch((e) => e);
      client.close();
      assert.ok(error instanceof K8sApiError);
      assert.equal(calls.length, 1, "a 403 is not retried");
      assert.deepEqual(clock.sleeps, []);
      assert.equal(error.status, 403);
      assert.equal(error.method, "PATCH");
      assert.equal(error.path, "/api/v1/nodes/n1/status");
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
      const client = createK8sClient(config(url), {
        log: logger().log,
        clock: new FakeClock(),
      });
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
  const clock = new FakeClock();
  const client = createK8sClient(config(`http://127.0.0.1:${port}`), {
    log,
    clock,
  });
  const error = await client.request("GET", "/api/v1/nodes").catch((e) => e);
  client.close();
  assert.ok(error instanceof K8sApiError);
  assert.equal(error.status, 0);
  assert.match(
    error.message,
    new RegExp(`cannot reach the API server at http://127.0.0.1:${port}`),
  );
  assert.equal(clock.sleeps.length, ONE_SHOT_RETRY.attempts - 1);
  assert.doesNotMatch(lines.join("") + error.message, new RegExp(TOKEN));
});

Deno.test("createK8sClient() waits as long as Retry-After says, capped", async () => {
  const answers = [
    new Response("slow down", { status: 429, headers: { "retry-after": "3" } }),
    new Response("", { status: 503, headers: { "retry-after": "120" } }),
    new Response("", { status: 503, headers: { "retry-after": "soon" } }),
    Response.json({ ok: true }),
  ];
  await withServer(
    (_r, n) => answers[n - 1]!,
    async (url, calls) => {
      const clock = new FakeClock();
      const client = createK8sClient(config(url), {
        log: logger().log,
        clock,
        random: () => 0,
      });
      assert.deepEqual(await client.request("GET", "/api/v1/nodes"), {
        ok: true,
      });
      client.close();
      assert.equal(calls.length, 4);
      // 3 s as asked; 120 s capped at ONE_SHOT_RETRY's 4 s; a value that
      // is not a number of seconds falls back to the backoff (3rd: 1 s).
      assert.deepEqual(clock.sleeps, [3000, 4000, 1000]);
    },
  );
});

Deno.test("createK8sClient() in a loop leaves a long Retry-After to its caller", async () => {
  await withServer(
    () =>
      new Response("slow down", {
        status: 429,
        headers: { "retry-after": "30" },
      }),
    async (url, calls) => {
      const clock = new FakeClock();
      const client = createK8sClient(config(url), {
        log: logger().log,
        clock,
        retry: LOOP_RETRY,
        giveUpOnLongRetryAfter: true,
      });
      const error = await client.request("GET", "/p").catch((e) => e);
      client.close();
      assert.ok(error instanceof K8sApiError);
      assert.equal(error.status, 429);
      assert.equal(error.retryAfterSeconds, 30);
      // Not asked again after the 1 s the loop policy would wait.
      assert.equal(calls.length, 1);
      assert.deepEqual(clock.sleeps, []);
    },
  );
});

Deno.test("createK8sClient() ends a request in flight when its signal aborts", async () => {
  let answer: (() => void) | undefined;
  await withServer(
    () =>
      new Promise<Response>((resolve) => {
        answer = () => resolve(new Response("late"));
      }),
    async (url, calls) => {
      const stop = new AbortController();
      const client = createK8sClient(config(url), {
        log: logger().log,
        clock: new FakeClock(),
        signal: stop.signal,
      });
      const started = performance.now();
      setTimeout(() => stop.abort("SIGTERM"), 100);
      const error = await client.request("GET", "/p").catch((e) => e);
      client.close();
      answer?.();
      assert.ok(performance.now() - started < 2000);
      assert.ok(error instanceof DOMException, String(error));
      assert.equal(error.name, "AbortError");
      assert.match(error.message, /SIGTERM/);
      assert.equal(calls.length, 1, "not retried");
    },
  );
});

// Negative cases.
Deno.test("createK8sClient() sends a final answer back at once", async () => {
  for (const status of [400, 401, 404, 409, 422]) {
    await withServer(
      () => Response.json({ kind: "Status", reason: "X" }, { status }),
      async (url, calls) => {
        const clock = new FakeClock();
        const client = createK8sClient(config(url), {
          log: logger().log,
          clock,
        });
        const error = await client.request("PUT", "/p").catch((e) => e);
        client.close();
        assert.ok(error instanceof K8sApiError);
        assert.equal(error.status, status);
        assert.equal(calls.length, 1, `${status} was retried`);
        assert.deepEqual(clock.sleeps, []);
      },
    );
  }
});

Deno.test("createK8sClient() refuses insecure-skip-tls-verify", () => {
  assert.throws(
    () =>
      createK8sClient({ ...config("https://h"), insecureSkipTlsVerify: true }, {
        log: logger().log,
        clock: new FakeClock(),
      }),
    (e) => e instanceof K8sConfigError && /always verifies/.test(e.message),
  );
});

Deno.test("docs/operator.md states the retry policies as they are", async () => {
  const text = (await Deno.readTextFile(`${REPO_ROOT}/docs/operator.md`))
    .replace(/\s+/g, " ");
  const s = (ms: number) => ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
  const oneShot = ONE_SHOT_RETRY;
  assert.ok(
    text.includes(
      `${oneShot.attempts} attempts with waits doubling from ${
        s(oneShot.initialMs)
      } to ${s(oneShot.maxMs)}`,
    ),
    "one-shot policy",
  );
  assert.ok(
    text.includes(
      `${LOOP_RETRY.attempts} attempts with waits of up to ${
        LOOP_RETRY.initialMs / 1000
      } and ${s(LOOP_RETRY.maxMs)}`,
    ),
    "loop policy",
  );
  assert.equal(oneShot.factor, 2);
  assert.equal(LOOP_RETRY.initialMs * LOOP_RETRY.factor, LOOP_RETRY.maxMs);
});
