/**
 * The webhook's HTTPS server, for real on 127.0.0.1 with a CA made per
 * test: routes, answers to good and bad bodies over the wire, the 3 MiB
 * limit, certificate rotation without restart, draining on abort and
 * start-up errors (`kcm webhook` as a process: tests/commands/webhook_test.ts).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { createLogger } from "../../../core/log.ts";
import {
  ListenError,
  startWebhookServer,
  TlsError,
  type WebhookOptions,
} from "../../../core/webhook/server.ts";
import {
  assertWellFormed,
  cores,
  decodePatch,
  type Json,
  kcmIsolate,
  pod,
  review,
} from "../../_helpers/admission.ts";
import { applyPatch } from "../../_helpers/json_patch.ts";
import { makeCa, peerCertificate } from "../../_helpers/tls.ts";
import {
  gatedBody,
  replaceFile,
  startTestWebhook,
  type TestWebhook,
} from "../../_helpers/webhook_server.ts";

const UID = "705ab4f5-6393-11e8-b7cc-42010a800002";
const GOOD = pod([{ name: "fwd", command: ["/fwd"], resources: cores(2) }]);

async function healthy(webhook: TestWebhook): Promise<void> {
  const response = await fetch(`${webhook.url}/healthz`, {
    client: webhook.client,
  });
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "ok\n");
}

async function assertMutatesGood(webhook: TestWebhook): Promise<void> {
  const { status, body } = await webhook.post(JSON.stringify(review(GOOD)));
  assert.equal(status, 200);
  assertWellFormed(body, UID, 200);
  const after = applyPatch(GOOD, decodePatch(body)) as Json;
  assert.deepEqual(after.spec.containers[0].command, [
    ...kcmIsolate(),
    "/fwd",
    "--",
  ]);
}

Deno.test("startWebhookServer() answers /healthz and /mutate, and nothing else", async () => {
  await using webhook = await startTestWebhook();
  await healthy(webhook);
  const call = async (method: string, path: string) => {
    const response = await fetch(`${webhook.url}${path}`, {
      method,
      client: webhook.client,
    });
    await response.body?.cancel();
    return [response.status, response.headers.get("allow")];
  };
  assert.deepEqual(await call("HEAD", "/healthz"), [200, null]);
  assert.deepEqual(await call("POST", "/healthz"), [405, "GET, HEAD"]);
  assert.deepEqual(await call("GET", "/mutate"), [405, "POST"]);
  assert.deepEqual(await call("GET", "/"), [404, null]);
  const response = await fetch(`${webhook.url}/mutate`, {
    method: "POST",
    body: JSON.stringify(review(GOOD)),
    client: webhook.client,
  });
  assert.equal(response.headers.get("content-type"), "application/json");
  await response.body?.cancel();
  await assertMutatesGood(webhook);
  assert.ok(
    webhook.logs.some((l) =>
      /^DEBUG:root:Admitted default\/p: patched/.test(l)
    ),
    webhook.logs.join("\n"),
  );
});

Deno.test("startWebhookServer() answers every bad body with a well-formed denial and keeps serving", async () => {
  await using webhook = await startTestWebhook();
  const bodies: [string, BodyInit, number, string, RegExp][] = [
    ["malformed JSON", '{"kind": "AdmissionRev', 400, "", /not valid JSON/],
    ["not a review", JSON.stringify(GOOD), 400, "", /not an AdmissionReview/],
    ["empty body", "", 400, "", /not valid JSON/],
    [
      "not UTF-8",
      new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
      400,
      "",
      /not UTF-8/,
    ],
    [
      "other version",
      JSON.stringify({
        ...review(GOOD),
        apiVersion: "admission.k8s.io/v1beta1",
      }),
      200,
      UID,
      /version "admission.k8s.io\/v1beta1" is not supported/,
    ],
    [
      "other kind",
      JSON.stringify(
        review(GOOD, { kind: { group: "", version: "v1", kind: "Secret" } }),
      ),
      200,
      UID,
      /core\/v1 Pods only/,
    ],
    [
      "fractional cores",
      JSON.stringify(
        review(pod([{ name: "c", command: ["/c"], resources: cores("1.5") }])),
      ),
      200,
      UID,
      /whole number of cores, got "1.5"/,
    ],
    [
      "zero cores",
      JSON.stringify(
        review(pod([{ name: "c", command: ["/c"], resources: cores(0) }])),
      ),
      200,
      UID,
      /at least 1/,
    ],
    [
      "requests differ from limits",
      JSON.stringify(review(pod([{
        name: "c",
        command: ["/c"],
        resources: {
          requests: { "kcm.intel.com/dataplane-cores": "1" },
          limits: { "kcm.intel.com/dataplane-cores": "2" },
        },
      }]))),
      200,
      UID,
      /differs from its limit/,
    ],
    [
      "no command",
      JSON.stringify(review(pod([{ name: "c", resources: cores(1) }]))),
      200,
      UID,
      /has no command/,
    ],
  ];
  for (const [what, body, status, uid, message] of bodies) {
    const answer = await webhook.post(body);
    assert.equal(answer.status, status, what);
    assertWellFormed(answer.body, uid, status);
    assert.equal(answer.body.response.allowed, false, what);
    assert.match(answer.body.response.status!.message, message, what);
    await healthy(webhook);
  }
  const denials = webhook.logs.filter((l) => l.startsWith("INFO:root:Denied"));
  assert.equal(denials.length, bodies.length, webhook.logs.join("\n"));
  await assertMutatesGood(webhook);
});

Deno.test("startWebhookServer() refuses bodies over 3 MiB with 413, announced or streamed", async () => {
  await using webhook = await startTestWebhook();
  const limit = 3 * 1024 * 1024;
  // Exactly 3 MiB is read: a review padded with blanks.
  const text = JSON.stringify(review(GOOD));
  const exact = text + " ".repeat(limit - text.length);
  const atLimit = await webhook.post(exact);
  assert.equal(atLimit.status, 200);
  assertWellFormed(atLimit.body, UID, 200);

  const over = await webhook.post(exact + " ");
  assert.equal(over.status, 413);
  assertWellFormed(over.body, "", 413);
  assert.match(over.body.response.status!.message, /larger than 3145728 bytes/);

  // An announced length over the limit is answered before any body arrives.
  const tls = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: webhook.port,
    caCerts: [webhook.ca.caPem],
  });
  try {
    await tls.write(new TextEncoder().encode(
      "POST /mutate HTTP/1.1\r\nhost: 127.0.0.1\r\n" +
        `content-type: application/json\r\ncontent-length: ${
          limit + 1
        }\r\n\r\n{`,
    ));
    const buffer = new Uint8Array(4096);
    const timer = setTimeout(() => tls.close(), 5000);
    const n = await tls.read(buffer).finally(() => clearTimeout(timer));
    const head = new TextDecoder().decode(buffer.subarray(0, n ?? 0));
    assert.match(head, /^HTTP\/1\.1 413 /);
  } finally {
    try {
      tls.close();
    } catch {
      // closed by the timer
    }
  }

  // No content-length: the server counts while reading and stops at the limit.
  const chunk = new Uint8Array(256 * 1024).fill(0x20);
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= 16 * 1024 * 1024) return controller.close();
      sent += chunk.length;
      controller.enqueue(chunk);
    },
  });
  const streamed = await webhook.post(stream);
  assert.equal(streamed.status, 413);
  assertWellFormed(streamed.body, "", 413);
  assert.ok(sent < 16 * 1024 * 1024, `the whole body was sent (${sent})`);

  await healthy(webhook);
  await assertMutatesGood(webhook);
});

Deno.test("startWebhookServer() serves a rotated certificate to new connections, without a restart", async () => {
  await using webhook = await startTestWebhook({ certCheckIntervalMs: 50 });
  const ca2 = await makeCa(webhook.dir, "ca2");
  const next = await ca2.issue("next");
  const onlyCa2 = Deno.createHttpClient({ caCerts: [ca2.caPem] });
  let open!: () => void;
  const gate = new Promise<void>((resolve) => open = resolve);
  try {
    const first = await peerCertificate(webhook.port);
    assert.equal(first, (await Deno.readTextFile(webhook.certFile)).trim());

    // A request in flight on a connection opened before the swap finishes.
    const text = JSON.stringify(review(GOOD));
    const inFlight = webhook.post(
      gatedBody(text.slice(0, 100), gate, text.slice(100)),
    );
    // Time for its connection and headers to reach the server (generous:
    // a 2-CPU machine under load can take a while to finish a handshake).
    await new Promise((resolve) => setTimeout(resolve, 500));

    // Half-way through a rotation the pair does not match: kept out.
    await replaceFile(next.certFile, webhook.certFile);
    assert.equal(await webhook.server.reloadCertificate(), false);
    assert.equal(await webhook.server.reloadCertificate(), false);
    assert.equal(await peerCertificate(webhook.port), first);
    const warnings = webhook.logs.filter((l) => l.startsWith("WARNING:"));
    assert.equal(warnings.length, 1, webhook.logs.join("\n"));
    assert.match(
      warnings[0]!,
      /cannot be used: .*; still serving the previous certificate/,
    );

    // The key follows, and the timer (50 ms) picks the pair up.
    await replaceFile(next.keyFile, webhook.keyFile);
    const deadline = Date.now() + 5000;
    while (!webhook.logs.some((l) => l.includes("Serving the new TLS"))) {
      assert.ok(Date.now() < deadline, webhook.logs.join("\n"));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(await peerCertificate(webhook.port), next.certPem.trim());
    const answer = await fetch(`${webhook.url}/healthz`, { client: onlyCa2 });
    assert.equal(answer.status, 200);
    await answer.body?.cancel();
    const oldClient = Deno.createHttpClient({ caCerts: [webhook.ca.caPem] });
    await assert.rejects(
      fetch(`${webhook.url}/healthz`, { client: oldClient }),
    );
    oldClient.close();

    open();
    const finished = await inFlight;
    assert.equal(finished.status, 200);
    assertWellFormed(finished.body, UID, 200);
    assert.ok(decodePatch(finished.body).length > 0);

    // Unchanged files: nothing to do.
    assert.equal(await webhook.server.reloadCertificate(), false);
  } finally {
    open();
    onlyCa2.close();
  }
});

Deno.test("startWebhookServer() drains requests in flight when its signal aborts, then stops listening", async () => {
  const webhook = await startTestWebhook({ drainTimeoutMs: 10_000 });
  let open!: () => void;
  const gate = new Promise<void>((resolve) => open = resolve);
  // A second client leaves an idle keep-alive connection behind.
  const idle = Deno.createHttpClient({ caCerts: [webhook.ca.caPem] });
  try {
    const health = await fetch(`${webhook.url}/healthz`, { client: idle });
    assert.equal(await health.text(), "ok\n");
    const text = JSON.stringify(review(GOOD));
    const inFlight = webhook.post(
      gatedBody(text.slice(0, 10), gate, text.slice(10)),
    );
    // Time for its connection and headers to reach the server (generous,
    // as above).
    await new Promise((resolve) => setTimeout(resolve, 500));
    webhook.controller.abort("SIGTERM");
    let done = false;
    const finished = webhook.server.finished.then(() => done = true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(done, false, "stopped before the request in flight ended");
    await assert.rejects(
      Deno.connect({ hostname: "127.0.0.1", port: webhook.port }),
      Deno.errors.ConnectionRefused,
    );
    open();
    const answer = await inFlight;
    const answeredAt = performance.now();
    assert.equal(answer.status, 200);
    assertWellFormed(answer.body, UID, 200);
    await finished;
    // Idle connections do not hold the stop up until the drain timeout.
    assert.ok(performance.now() - answeredAt < 3000);
    assert.ok(
      webhook.logs.some((l) =>
        l === "INFO:root:Stopping on SIGTERM: draining requests in flight"
      ),
      webhook.logs.join("\n"),
    );
  } finally {
    open();
    idle.close();
    await webhook.stop();
  }
});

Deno.test("startWebhookServer() names the file, the pair or the address it cannot use", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kcm-webhook-test-" });
  try {
    const ca = await makeCa(dir, "ca");
    const [a, b] = [await ca.issue("a"), await ca.issue("b")];
    const options = (over: Partial<WebhookOptions>): WebhookOptions => ({
      confDir: "/etc/kcm",
      installDir: "/opt/bin",
      tlsCertFile: a.certFile,
      tlsKeyFile: a.keyFile,
      listen: { hostname: "127.0.0.1", port: 0 },
      ...over,
    });
    const deps = {
      signal: AbortSignal.abort(),
      log: createLogger("CRITICAL", () => {}),
    };
    const missing = join(dir, "missing.crt");
    await assert.rejects(
      startWebhookServer(options({ tlsCertFile: missing }), deps),
      (error) =>
        error instanceof TlsError && error.certFile === missing &&
        error.exitCode === 1 &&
        error.message === `Cannot read "${missing}": no such file or directory`,
    );
    await Deno.writeTextFile(join(dir, "garbage.crt"), "not a certificate\n");
    await assert.rejects(
      startWebhookServer(
        options({ tlsCertFile: join(dir, "garbage.crt") }),
        deps,
      ),
      (error) =>
        error instanceof TlsError && /cannot be used/.test(error.message),
    );
    await assert.rejects(
      startWebhookServer(options({ tlsKeyFile: b.keyFile }), deps),
      (error) =>
        error instanceof TlsError && /cannot be used/.test(error.message),
    );
    using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (taken.addr as Deno.NetAddr).port;
    await assert.rejects(
      startWebhookServer(
        options({ listen: { hostname: "127.0.0.1", port } }),
        deps,
      ),
      (error) =>
        error instanceof ListenError && error.code === "EADDRINUSE" &&
        error.port === port,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
