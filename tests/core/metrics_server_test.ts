import assert from "node:assert/strict";
import { createKcmMetrics, observeProcess } from "../../core/kcm_metrics.ts";
import { MetricsListenError, serveMetrics } from "../../core/metrics_server.ts";
import { readProcessSample } from "../../core/process_metrics.ts";

Deno.test("serveMetrics() answers scrapes with kcm's metrics and the process's", async () => {
  const metrics = createKcmMetrics("9.9.9");
  const stop = new AbortController();
  let collected = 0;
  const server = serveMetrics({ hostname: "127.0.0.1", port: 0 }, {
    signal: stop.signal,
    render: () => metrics.registry.format(),
    collect: async () => {
      collected++;
      observeProcess(metrics, await readProcessSample());
    },
  });
  try {
    assert.notEqual(server.address.port, 0);
    const base = `http://127.0.0.1:${server.address.port}`;
    const response = await fetch(`${base}/metrics`);
    const text = await response.text();
    assert.equal(response.status, 200);
    assert.equal(
      response.headers.get("content-type"),
      "text/plain; version=0.0.4; charset=utf-8",
    );
    assert.equal(collected, 1);
    assert.match(text, /^kcm_build_info\{version="9\.9\.9"\} 1$/m);
    const rss = Number(
      /^process_resident_memory_bytes (\d+)$/m.exec(text)?.[1],
    );
    assert.ok(rss > 10 * 1024 * 1024, `RSS ${rss}`);
    assert.match(text, /^process_start_time_seconds \d+(\.\d+)?$/m);
    assert.match(text, /^deno_heap_size_used_bytes \d+$/m);

    const head = await fetch(`${base}/metrics`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
    const health = await fetch(`${base}/healthz`);
    assert.equal(await health.text(), "ok\n");
    const missing = await fetch(`${base}/other`);
    await missing.body?.cancel();
    assert.equal(missing.status, 404);
    const post = await fetch(`${base}/metrics`, { method: "POST", body: "" });
    await post.body?.cancel();
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    assert.equal(collected, 2); // HEAD collects too; the others do not
  } finally {
    stop.abort();
    await server.finished;
  }
  await assert.rejects(
    fetch(`http://127.0.0.1:${server.address.port}/metrics`),
  );
});

Deno.test("serveMetrics() answers 500 when collecting fails", async () => {
  const stop = new AbortController();
  const server = serveMetrics({ hostname: "127.0.0.1", port: 0 }, {
    signal: stop.signal,
    render: () => "never\n",
    collect: () => Promise.reject(new Error("procfs is gone")),
  });
  try {
    const response = await fetch(
      `http://127.0.0.1:${server.address.port}/metrics`,
    );
    assert.equal(response.status, 500);
    assert.equal(
      await response.text(),
      "cannot collect metrics: procfs is gone\n",
    );
  } finally {
    stop.abort();
    await server.finished;
  }
});

Deno.test("serveMetrics() fails at once with the address when the port is taken", () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  try {
    const error = (() => {
      try {
        serveMetrics({ hostname: "127.0.0.1", port }, {
          signal: AbortSignal.abort(),
          render: () => "",
        });
      } catch (error) {
        return error;
      }
    })();
    assert.ok(error instanceof MetricsListenError);
    assert.equal(error.code, "EADDRINUSE");
    assert.deepEqual(error.address, { hostname: "127.0.0.1", port });
    assert.equal(error.exitCode, 1);
    assert.equal(
      error.message,
      `Cannot serve metrics on 127.0.0.1:${port}: address already in use`,
    );
    assert.match(error.hint!, /choose another port with --metrics-listen/);
  } finally {
    taken.close();
  }
});

Deno.test("serveMetrics() refuses an address that is not this machine's", () => {
  // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never a local address.
  assert.throws(
    () =>
      serveMetrics({ hostname: "192.0.2.1", port: 0 }, {
        signal: AbortSignal.abort(),
        render: () => "",
      }),
    (error: unknown) =>
      error instanceof MetricsListenError &&
      error.code === "EADDRNOTAVAIL" &&
      error.message ===
        "Cannot serve metrics on 192.0.2.1:0: not an address of this machine",
  );
});
