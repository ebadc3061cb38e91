/**
 * The webhook's own settings, checked once: the host directories it mounts
 * into pods. Pure. (`--listen` is core/listen_address.ts's.)
 */

import type { InjectionSettings } from "./mutate_pod.ts";
import { HOST_PROC_MOUNT } from "./names.ts";

/** A setting that cannot work; `setting` names it (`"conf-dir"`, `"install-dir"`). */
export class WebhookSettingError extends RangeError {
  readonly setting: string;
  readonly input: string;

  constructor(setting: string, input: string, why: string) {
    super(`--${setting} ${why}, got ${JSON.stringify(input)}`);
    this.name = "WebhookSettingError";
    this.setting = setting;
    this.input = input;
  }
}

function checkDir(setting: string, path: string): string {
  if (!path.startsWith("/")) {
    throw new WebhookSettingError(setting, path, "must be an absolute path");
  }
  const clean = path.replace(/\/+$/, "");
  if (clean === "") {
    throw new WebhookSettingError(
      setting,
      path,
      "must not be the root directory",
    );
  }
  if (clean.split("/").some((s) => s === "." || s === "..")) {
    throw new WebhookSettingError(setting, path, "must not contain . or ..");
  }
  if (/[\s,]/.test(clean) || clean.includes("//")) {
    throw new WebhookSettingError(
      setting,
      path,
      "must be a plain path (no blanks, commas or empty segments)",
    );
  }
  for (const reserved of ["/proc", HOST_PROC_MOUNT]) {
    if (clean === reserved || clean.startsWith(`${reserved}/`)) {
      throw new WebhookSettingError(
        setting,
        path,
        `must not be under ${reserved}`,
      );
    }
  }
  return clean;
}

/**
 * Checks and normalises the directories the webhook mounts into pods: both
 * absolute, not `/`, not under `/proc` or `/host/proc`, and distinct.
 * Trailing slashes are removed.
 *
 * @example
 * ```ts
 * import { injectionSettings } from "./settings.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(injectionSettings("/etc/kcm/", "/opt/bin"), {
 *   confDir: "/etc/kcm",
 *   installDir: "/opt/bin",
 * });
 * assert.throws(() => injectionSettings("etc/kcm", "/opt/bin"), /absolute/);
 * ```
 */
export function injectionSettings(
  confDir: string,
  installDir: string,
): InjectionSettings {
  const settings = {
    confDir: checkDir("conf-dir", confDir),
    installDir: checkDir("install-dir", installDir),
  };
  if (settings.confDir === settings.installDir) {
    throw new WebhookSettingError(
      "install-dir",
      installDir,
      "must differ from --conf-dir",
    );
  }
  return settings;
}
