/**
 * Reading a kubeconfig file's text: its current context's cluster, user
 * and namespace, with credentials given inline (`-data`, `token`) or as
 * files to read (resolved against the kubeconfig's directory, as kubectl
 * does). Pure; loading the files is config.ts's job.
 *
 * Supported credentials: `token`, `tokenFile`, client certificate and key.
 * `exec` and `auth-provider` plugins are refused with a clear error.
 */

import { parse as parseYaml } from "yaml";
import { K8sConfigError } from "./errors.ts";
import { quote } from "../quote.ts";

/** A value given inline or as a file to read. */
export type Material =
  | { readonly data: string }
  | { readonly file: string }
  | undefined;

/** The current context of a kubeconfig, file references resolved to paths. */
export interface KubeconfigEntry {
  readonly server: string;
  readonly ca: Material;
  readonly insecureSkipTlsVerify: boolean;
  readonly token: Material;
  readonly clientCert: Material;
  readonly clientKey: Material;
  readonly namespace: string | undefined;
}

type Dict = Record<string, unknown>;

function isDict(value: unknown): value is Dict {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function named(list: unknown, name: string, what: string, path: string): Dict {
  if (!Array.isArray(list)) {
    throw new K8sConfigError(`Kubeconfig ${path} has no ${what}s list`);
  }
  const found = list.find((item) => isDict(item) && item.name === name);
  if (!isDict(found)) {
    throw new K8sConfigError(
      `Kubeconfig ${path} has no ${what} ${quote(name)}`,
    );
  }
  const body = found[what];
  return isDict(body) ? body : {};
}

function text(dict: Dict, key: string): string | undefined {
  const value = dict[key];
  return typeof value === "string" && value !== "" ? value : undefined;
}

function decodeBase64(value: string, what: string, path: string): string {
  try {
    const binary = atob(value.replace(/\s+/g, ""));
    return new TextDecoder().decode(
      Uint8Array.from(binary, (c) => c.charCodeAt(0)),
    );
  } catch (cause) {
    throw new K8sConfigError(`Kubeconfig ${path}: ${what} is not base64`, {
      cause,
    });
  }
}

function resolvePath(file: string, base: string): string {
  if (file.startsWith("/")) return file;
  const dir = base.includes("/") ? base.slice(0, base.lastIndexOf("/")) : ".";
  return `${dir || "/"}/${file}`;
}

function material(
  dict: Dict,
  dataKey: string,
  fileKey: string,
  path: string,
): Material {
  const data = text(dict, dataKey);
  if (data !== undefined) {
    return { data: decodeBase64(data, dataKey, path) };
  }
  const file = text(dict, fileKey);
  return file === undefined ? undefined : { file: resolvePath(file, path) };
}

/**
 * Picks the current context of a kubeconfig text. Relative file names are
 * resolved against the kubeconfig's directory, like kubectl does.
 *
 * @example
 * ```ts
 * import { parseKubeconfig } from "./kubeconfig.ts";
 * import assert from "node:assert/strict";
 * const entry = parseKubeconfig(`
 * current-context: c
 * contexts: [{name: c, context: {cluster: k, user: u, namespace: team}}]
 * clusters: [{name: k, cluster: {server: "https://127.0.0.1:6443/", certificate-authority: ca.crt}}]
 * users: [{name: u, user: {token: abc}}]
 * `, "/home/me/.kube/config");
 * assert.equal(entry.server, "https://127.0.0.1:6443");
 * assert.deepEqual(entry.ca, { file: "/home/me/.kube/ca.crt" });
 * assert.deepEqual(entry.token, { data: "abc" });
 * assert.equal(entry.namespace, "team");
 * ```
 */
export function parseKubeconfig(source: string, path: string): KubeconfigEntry {
  let doc: unknown;
  try {
    doc = parseYaml(source);
  } catch (cause) {
    throw new K8sConfigError(`Kubeconfig ${path} is not valid YAML`, {
      cause,
    });
  }
  if (!isDict(doc)) {
    throw new K8sConfigError(`Kubeconfig ${path} is not a YAML mapping`);
  }
  const current = text(doc, "current-context");
  if (current === undefined) {
    throw new K8sConfigError(`Kubeconfig ${path} has no current-context`, {
      hint: "run `kubectl config use-context <name>`",
    });
  }
  const context = named(doc.contexts, current, "context", path);
  const clusterName = text(context, "cluster");
  if (clusterName === undefined) {
    throw new K8sConfigError(
      `Kubeconfig ${path}: context ${quote(current)} names no cluster`,
    );
  }
  const cluster = named(doc.clusters, clusterName, "cluster", path);
  const userName = text(context, "user");
  const user = userName === undefined
    ? {}
    : named(doc.users, userName, "user", path);
  const server = text(cluster, "server");
  if (server === undefined) {
    throw new K8sConfigError(
      `Kubeconfig ${path}: cluster ${quote(clusterName)} has no server`,
    );
  }
  let url: URL;
  try {
    url = new URL(server);
  } catch (cause) {
    throw new K8sConfigError(
      `Kubeconfig ${path}: server ${quote(server)} is not a URL`,
      { cause },
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new K8sConfigError(
      `Kubeconfig ${path}: server ${quote(server)} is not http(s)`,
    );
  }
  const token = text(user, "token");
  const tokenFile = text(user, "tokenFile");
  const entry: KubeconfigEntry = {
    server: server.replace(/\/+$/, ""),
    ca: material(
      cluster,
      "certificate-authority-data",
      "certificate-authority",
      path,
    ),
    insecureSkipTlsVerify: cluster["insecure-skip-tls-verify"] === true,
    token: token !== undefined
      ? { data: token }
      : tokenFile !== undefined
      ? { file: resolvePath(tokenFile, path) }
      : undefined,
    clientCert: material(
      user,
      "client-certificate-data",
      "client-certificate",
      path,
    ),
    clientKey: material(user, "client-key-data", "client-key", path),
    namespace: text(context, "namespace"),
  };
  if (
    entry.token === undefined && entry.clientCert === undefined &&
    (isDict(user.exec) || isDict(user["auth-provider"]))
  ) {
    throw new K8sConfigError(
      `Kubeconfig ${path}: user ${
        quote(userName)
      } uses an exec or auth-provider plugin, which kcm does not support`,
      { hint: "use a kubeconfig with a token or a client certificate" },
    );
  }
  if ((entry.clientCert === undefined) !== (entry.clientKey === undefined)) {
    throw new K8sConfigError(
      `Kubeconfig ${path}: user ${
        quote(userName)
      } has a client certificate without a key or a key without a certificate`,
    );
  }
  return entry;
}
