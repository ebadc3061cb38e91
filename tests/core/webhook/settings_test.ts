import assert from "node:assert/strict";
import {
  injectionSettings,
  WebhookSettingError,
} from "../../../core/webhook/settings.ts";

Deno.test("injectionSettings() keeps plain absolute directories, without trailing slashes", () => {
  assert.deepEqual(injectionSettings("/etc/kcm", "/opt/bin/"), {
    confDir: "/etc/kcm",
    installDir: "/opt/bin",
  });
  assert.deepEqual(injectionSettings("/var/lib/kcm-1", "/usr/local/kcm"), {
    confDir: "/var/lib/kcm-1",
    installDir: "/usr/local/kcm",
  });
});

Deno.test("injectionSettings() rejects directories it cannot mount safely", () => {
  const cases: [string, string, string, RegExp][] = [
    ["etc/kcm", "/opt/bin", "conf-dir", /absolute/],
    ["/", "/opt/bin", "conf-dir", /root directory/],
    ["/etc/kcm", "///", "install-dir", /root directory/],
    ["/etc/../kcm", "/opt/bin", "conf-dir", /\. or \.\./],
    ["/etc/kcm", "/opt//bin", "install-dir", /plain path/],
    ["/etc/k cm", "/opt/bin", "conf-dir", /plain path/],
    ["/proc/kcm", "/opt/bin", "conf-dir", /under \/proc/],
    ["/etc/kcm", "/host/proc", "install-dir", /under \/host\/proc/],
    ["/etc/kcm", "/etc/kcm/", "install-dir", /differ from --conf-dir/],
  ];
  for (const [confDir, installDir, setting, message] of cases) {
    assert.throws(
      () => injectionSettings(confDir, installDir),
      (error) =>
        error instanceof WebhookSettingError && error.setting === setting &&
        message.test(error.message),
      `${confDir} ${installDir}`,
    );
  }
});
