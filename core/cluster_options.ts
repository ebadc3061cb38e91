/**
 * The flags `cluster-init` and `cluster-uninstall` share, checked before
 * any API call: the nodes (`--host-list`/`--all-hosts`) and what the pods
 * they create look like (image, pull policy, host directories, namespace).
 * Pure: invocation in, typed values out, `UsageError` on a bad value.
 */

import type { Invocation } from "./command.ts";
import { UsageError } from "./errors.ts";
import { isDns1123Subdomain } from "./k8s/node_name.ts";
import type { GivenSettings } from "./k8s/apply_daemon_set.ts";
import type { WorkloadSettings } from "./k8s/workloads.ts";
import { quote } from "./quote.ts";

const PULL_POLICIES = ["Never", "IfNotPresent", "Always"];

function splitList(text: string): string[] {
  return text.split(",").map((s) => s.trim());
}

/** Validates `--host-list`: DNS-1123 names, no blanks, no repeats. */
export function parseHostList(
  text: string,
  podName: (node: string) => string,
): string[] {
  const hosts = splitList(text);
  for (const host of hosts) {
    if (host === "") {
      throw new UsageError(`--host-list has an empty entry: ${quote(text)}`);
    }
    if (!isDns1123Subdomain(host)) {
      throw new UsageError(
        `--host-list: ${
          quote(host)
        } is not a valid node name (lowercase letters, digits, "-" and ".")`,
      );
    }
    if (podName(host).length > 253) {
      throw new UsageError(`--host-list: node name ${quote(host)} is too long`);
    }
  }
  const twice = hosts.find((h, i) => hosts.indexOf(h) !== i);
  if (twice !== undefined) {
    throw new UsageError(`--host-list names ${quote(twice)} twice`);
  }
  return hosts;
}

/** The command lines this module reads. */
type ClusterInvocation = Invocation<"cluster-init" | "cluster-uninstall">;

/** The nodes of `--host-list`/`--all-hosts`: exactly one must be given. */
export function parseHosts(
  invocation: ClusterInvocation,
  podName: (node: string) => string,
): readonly string[] | "all" {
  const hostList = invocation.options["host-list"];
  const allHosts = invocation.options["all-hosts"];
  if (allHosts && hostList !== undefined) {
    throw new UsageError("Give either --host-list or --all-hosts, not both");
  }
  if (!allHosts && hostList === undefined) {
    throw new UsageError(
      `${invocation.command} needs --host-list or --all-hosts`,
    );
  }
  return hostList !== undefined ? parseHostList(hostList, podName) : "all";
}

/**
 * Validates the image, pull policy, directories and namespace flags, and
 * tells which of the pods' settings were typed rather than defaulted.
 */
export function parseWorkloadFlags(invocation: ClusterInvocation): {
  settings: Omit<WorkloadSettings, "numDpCores" | "numCpCores">;
  given: GivenSettings;
  namespace: string | undefined;
} {
  const {
    "kcm-img-pol": pullPolicy,
    "kcm-img": image,
    "conf-dir": confDir,
    "install-dir": installDir,
    namespace,
  } = invocation.options;
  if (!PULL_POLICIES.includes(pullPolicy)) {
    throw new UsageError(
      "Image pull policy should be one of ['Never', 'IfNotPresent', 'Always']",
    );
  }
  if (image.trim() === "" || /\s/.test(image)) {
    throw new UsageError(`--kcm-img is not an image name: ${quote(image)}`);
  }
  for (
    const [name, path] of [
      ["conf-dir", confDir],
      ["install-dir", installDir],
    ] as const
  ) {
    if (!path.startsWith("/")) {
      throw new UsageError(
        `--${name} must be an absolute host path, got ${quote(path)}`,
      );
    }
  }
  if (
    namespace !== undefined &&
    !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)
  ) {
    throw new UsageError(
      `--namespace: ${quote(namespace)} is not a valid namespace`,
    );
  }
  return {
    settings: { image, pullPolicy, confDir, installDir },
    given: {
      image: invocation.given.has("kcm-img"),
      pullPolicy: invocation.given.has("kcm-img-pol"),
      confDir: invocation.given.has("conf-dir"),
      installDir: invocation.given.has("install-dir"),
    },
    namespace,
  };
}
