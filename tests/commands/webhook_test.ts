import assert from "node:assert/strict";
import { parse, type WebhookOptions } from "../../commands/webhook.ts";
import { UsageError } from "../../core/errors.ts";

const OPTIONS: WebhookOptions = {
  confDir: "/etc/kcm/",
  installDir: "/opt/bin",
  tlsCertFile: "/tls/tls.crt",
  tlsKeyFile: "/tls/tls.key",
  listen: { hostname: "0.0.0.0", port: 8443 },
};

Deno.test("parse() normalises the directories and keeps the rest", () => {
  assert.deepEqual(parse(OPTIONS), { ...OPTIONS, confDir: "/etc/kcm" });
});

Deno.test("parse() turns bad settings into usage errors (exit 2)", () => {
  const cases: [Partial<WebhookOptions>, RegExp][] = [
    [{ confDir: "kcm" }, /^--conf-dir must be an absolute path, got "kcm"$/],
    [{ installDir: "/proc/x" }, /^--install-dir must not be under \/proc/],
    [{ tlsCertFile: "" }, /needs --tls-cert=<file> and --tls-key=<file>/],
    [{ tlsKeyFile: "" }, /needs --tls-cert=<file> and --tls-key=<file>/],
    [{ listen: { hostname: "::", port: 70000 } }, /port out of range: 70000/],
  ];
  for (const [change, message] of cases) {
    assert.throws(
      () => parse({ ...OPTIONS, ...change }),
      (error) =>
        error instanceof UsageError && error.exitCode === 2 &&
        message.test(error.message),
      JSON.stringify(change),
    );
  }
});
