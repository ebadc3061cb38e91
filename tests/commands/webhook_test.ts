/**
 * `kcm webhook` on the command line: its options typed and checked, bad
 * values refused with exit 2 before anything listens, and the real
 * `deno run main.ts webhook` process serving with the flags it was given
 * and draining on SIGTERM (the server itself: tests/core/webhook/).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { parse } from "../../commands/webhook.ts";
import { UsageError } from "../../core/errors.ts";
import {
  assertWellFormed,
  cores,
  decodePatch,
  type Json,
  pod,
  review,
} from "../_helpers/admission.ts";
import { commandLine } from "../_helpers/cluster_cli.ts";
import { applyPatch } from "../_helpers/json_patch.ts";
import { runKcm } from "../_helpers/run_cli.ts";
import { makeCa } from "../_helpers/tls.ts";
import { gatedBody } from "../_helpers/webhook_server.ts";
import { startWebhookProcess } from "../_helpers/webhook_process.ts";

const TLS = ["--tls-cert=/tls/tls.crt", "--tls-key=/tls/tls.key"];

Deno.test("parse() of webhook fills the defaults and normalises the directories", () => {
  assert.deepEqual(parse(commandLine("webhook", TLS)), {
    confDir: "/etc/kcm",
    installDir: "/opt/bin",
    tlsCertFile: "/tls/tls.crt",
    tlsKeyFile: "/tls/tls.key",
    listen: { hostname: "0.0.0.0", port: 8443 },
  });
  assert.deepEqual(
    parse(commandLine("webhook", [
      ...TLS,
      "--conf-dir=/var/lib/kcm/",
      "--install-dir",
      "/usr/local/kcm",
      "--listen=[::1]:9443",
    ])),
    {
      confDir: "/var/lib/kcm",
      installDir: "/usr/local/kcm",
      tlsCertFile: "/tls/tls.crt",
      tlsKeyFile: "/tls/tls.key",
      listen: { hostname: "::1", port: 9443 },
    },
  );
});

Deno.test("parse() of webhook turns bad values into usage errors", () => {
  const cases: [string[], RegExp][] = [
    [
      ["--tls-key=/k"],
      /^webhook needs --tls-cert=<file> and --tls-key=<file>$/,
    ],
    [
      ["--tls-cert=/c"],
      /^webhook needs --tls-cert=<file> and --tls-key=<file>$/,
    ],
    [["--tls-cert=", "--tls-key=/k"], /needs --tls-cert=<file>/],
    [[...TLS, "--conf-dir=kcm"], /^--conf-dir must be an absolute path/],
    [[...TLS, "--install-dir=/proc/x"], /^--install-dir must not be under/],
    [[...TLS, "--install-dir=/etc/kcm"], /must differ from --conf-dir/],
    [[...TLS, "--listen=8443"], /^--listen: Cannot parse listen address/],
    [[...TLS, "--listen=:70000"], /^--listen: .*from 0 to 65535/],
  ];
  for (const [args, message] of cases) {
    assert.throws(
      () => parse(commandLine("webhook", args)),
      (error) =>
        error instanceof UsageError && error.exitCode === 2 &&
        message.test(error.message),
      args.join(" "),
    );
  }
});

Deno.test("kcm webhook refuses bad flags with exit 2 and one error line, before listening", async () => {
  for (
    const [args, reason] of [
      [
        ["--tls-key=/k"],
        "webhook needs --tls-cert=<file> and --tls-key=<file>",
      ],
      [[...TLS, "--listen=localhost"], "--listen: Cannot parse listen address"],
      [[...TLS, "--pool=dataplane"], "--pool is not an option of webhook"],
      [[...TLS, "extra"], 'Unexpected argument "extra"'],
    ] as const
  ) {
    const result = await runKcm(["webhook", ...args]);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stdout, "");
    const [first, second] = result.stderr.split("\n");
    assert.ok(first!.startsWith(`kcm: error: ${reason}`), result.stderr);
    assert.equal(
      second,
      "Usage:",
      "then the usage section, as for any usage error",
    );
    assert.ok(!result.stderr.includes("listening"));
  }
});

Deno.test("kcm webhook names a certificate it cannot read and exits 1", async () => {
  const result = await runKcm([
    "webhook",
    "--tls-cert=/nonexistent/tls.crt",
    "--tls-key=/nonexistent/tls.key",
    "--listen=127.0.0.1:0",
  ]);
  assert.equal(result.code, 1, result.stderr);
  assert.match(
    result.stderr,
    /^kcm: error: Cannot read "\/nonexistent\/tls\.(crt|key)": .*\nhint: --tls-cert must hold a PEM certificate chain/,
  );
});

Deno.test("kcm webhook (deno run main.ts) serves with its flags and drains on SIGTERM, exit 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kcm-webhook-cli-" });
  try {
    const ca = await makeCa(dir, "ca");
    const leaf = await ca.issue("tls");
    await using webhook = await startWebhookProcess({
      certFile: leaf.certFile,
      keyFile: leaf.keyFile,
      flags: ["--conf-dir=/var/lib/kcm", "--install-dir=/usr/local/kcm"],
    });
    const client = Deno.createHttpClient({ caCerts: [ca.caPem] });
    try {
      const health = await fetch(`${webhook.url}/healthz`, { client });
      assert.equal(await health.text(), "ok\n");

      // A request whose body is only half sent when SIGTERM arrives.
      const GOOD = pod([{
        name: "fwd",
        command: ["/fwd"],
        resources: cores(2),
      }]);
      let open!: () => void;
      const gate = new Promise<void>((resolve) => open = resolve);
      const text = JSON.stringify(review(GOOD));
      const inFlight = fetch(`${webhook.url}/mutate`, {
        method: "POST",
        body: gatedBody(text.slice(0, 10), gate, text.slice(10)),
        client,
      });
      // Time for its connection and headers to reach the webhook
      // (generous: a handshake can take a while on a loaded machine).
      await new Promise((resolve) => setTimeout(resolve, 500));
      webhook.child.kill("SIGTERM");
      await new Promise((resolve) => setTimeout(resolve, 200));
      open();
      const response = await inFlight;
      assert.equal(response.status, 200);
      const body = await response.json();
      assertWellFormed(body, review(GOOD).request.uid, 200);
      const after = applyPatch(GOOD, decodePatch(body)) as Json;
      assert.deepEqual(after.spec.containers[0].command, [
        "/usr/local/kcm/kcm",
        "isolate",
        "--conf-dir=/var/lib/kcm",
        "--pool=dataplane",
        "/fwd",
        "--",
      ]);
      assert.ok(
        after.spec.volumes.some((v: Json) =>
          v.hostPath?.path === "/var/lib/kcm"
        ),
      );
    } finally {
      client.close();
    }
    const { code, stderr } = await webhook.stop();
    assert.equal(code, 0, stderr);
    assert.match(
      stderr,
      /INFO:root:Stopping on SIGTERM: draining requests in flight/,
    );
    assert.ok(!stderr.includes("kcm: error"), stderr);
  } finally {
    await Deno.remove(join(dir), { recursive: true });
  }
});
