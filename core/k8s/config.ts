/**
 * Where kcm's Kubernetes client connects and how it authenticates.
 *
 * In a pod (`KUBERNETES_SERVICE_HOST` set) the service account's token,
 * `ca.crt` and `namespace` files are read from `KCM_SERVICE_ACCOUNT_DIR`
 * (default `/var/run/secrets/kubernetes.io/serviceaccount`). Elsewhere the
 * kubeconfig named by `KUBECONFIG` is used (only the first file of a
 * `:`-separated list; kubectl merges all of them, kcm does not), else
 * `$HOME/.kube/config`: its current context's cluster, user and namespace.
 * Supported credentials: `token`, `tokenFile`, client certificate and key
 * (inline `-data` or files). `exec` and `auth-provider` plugins are not.
 *
 * {@linkcode parseKubeconfig} and {@linkcode inClusterServer} are pure;
 * {@linkcode loadClientConfig} reads files through the reader it is given.
 */

import { parse as parseYaml } from "yaml";
import { K8sConfigError } from "./errors.ts";

/** Everything the client needs to reach and authenticate to the API. */
export interface ClientConfig {
  /** Base URL without a trailing slash, e.g. `https://10.0.0.1:443`. */
  readonly server: string;
  /** PEM CA bundle that signs the server certificate, if not a public CA. */
  readonly caPem: string | undefined;
  /** The kubeconfig asked to skip TLS verification. */
  readonly insecureSkipTlsVerify: boolean;
  /** Bearer token. Never logged. */
  readonly token: string | undefined;
  /** PEM client certificate (with `clientKeyPem`). */
  readonly clientCertPem: string | undefined;
  /** PEM client key (with `clientCertPem`). */
  readonly clientKeyPem: string | undefined;
  /** The namespace kcm runs in: pod namespace, context namespace, else `default`. */
  readonly namespace: string;
  /** Where the settings came from, for messages: `in-cluster` or a file. */
  readonly source: string;
}

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

/** The default service-account mount of a pod. */
export const SERVICE_ACCOUNT_DIR =
  "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * The API server URL of the in-cluster environment variables.
 *
 * @example
 * ```ts
 * import { inClusterServer } from "./config.ts";
 * import assert from "node:assert/strict";
 * assert.equal(inClusterServer("fd00::1", "443"), "https://[fd00::1]:443");
 * ```
 */
export function inClusterServer(host: string, port: string): string {
  const bracketed = host.includes(":") && !host.startsWith("[")
    ? `[${host}]`
    : host;
  return `https://${bracketed}:${port}`;
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
    throw new K8sConfigError(`Kubeconfig ${path} has no ${what} "${name}"`);
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
 * import { parseKubeconfig } from "./config.ts";
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
      `Kubeconfig ${path}: context "${current}" names no cluster`,
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
      `Kubeconfig ${path}: cluster "${clusterName}" has no server`,
    );
  }
  let url: URL;
  try {
    url = new URL(server);
  } catch (cause) {
    throw new K8sConfigError(
      `Kubeconfig ${path}: server "${server}" is not a URL`,
      { cause },
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new K8sConfigError(
      `Kubeconfig ${path}: server "${server}" is not http(s)`,
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
      `Kubeconfig ${path}: user "${userName}" uses an exec or auth-provider plugin, which kcm does not support`,
      { hint: "use a kubeconfig with a token or a client certificate" },
    );
  }
  if ((entry.clientCert === undefined) !== (entry.clientKey === undefined)) {
    throw new K8sConfigError(
      `Kubeconfig ${path}: user "${userName}" has a client certificate without a key or a key without a certificate`,
    );
  }
  return entry;
}

/** Reads a whole text file; rejects when it cannot. */
export type ReadTextFile = (path: string) => Promise<string>;

async function readMaterial(
  value: Material,
  what: string,
  read: ReadTextFile,
): Promise<string | undefined> {
  if (value === undefined) return undefined;
  if ("data" in value) return value.data;
  try {
    return await read(value.file);
  } catch (cause) {
    throw new K8sConfigError(`Cannot read the ${what} file ${value.file}`, {
      cause,
    });
  }
}

async function loadInCluster(
  env: Readonly<Record<string, string>>,
  read: ReadTextFile,
): Promise<ClientConfig> {
  const host = env.KUBERNETES_SERVICE_HOST!;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!port) {
    throw new K8sConfigError(
      "KUBERNETES_SERVICE_HOST is set but KUBERNETES_SERVICE_PORT is not",
    );
  }
  const dir = (env.KCM_SERVICE_ACCOUNT_DIR || SERVICE_ACCOUNT_DIR).replace(
    /\/+$/,
    "",
  );
  const token = (await readMaterial(
    { file: `${dir}/token` },
    "service account token",
    read,
  ))!.trim();
  const caPem = await readMaterial(
    { file: `${dir}/ca.crt` },
    "service account CA",
    read,
  );
  let namespace = "default";
  try {
    namespace = (await read(`${dir}/namespace`)).trim() || "default";
  } catch {
    // A pod always has the file; outside one "default" is the sane choice.
  }
  return {
    server: inClusterServer(host, port),
    caPem,
    insecureSkipTlsVerify: false,
    token,
    clientCertPem: undefined,
    clientKeyPem: undefined,
    namespace,
    source: `in-cluster (${dir})`,
  };
}

/** The kubeconfig path kcm reads for `env`, or undefined without HOME. */
export function kubeconfigPath(
  env: Readonly<Record<string, string>>,
): string | undefined {
  const list = env.KUBECONFIG ?? "";
  const first = list.split(":").find((p) => p !== "");
  if (first !== undefined) return first;
  return env.HOME ? `${env.HOME.replace(/\/+$/, "")}/.kube/config` : undefined;
}

/**
 * Loads the client settings for `env`: in-cluster when
 * `KUBERNETES_SERVICE_HOST` is set, else the kubeconfig. Reads files only
 * through `read`.
 */
export async function loadClientConfig(
  env: Readonly<Record<string, string>>,
  read: ReadTextFile,
): Promise<ClientConfig> {
  if (env.KUBERNETES_SERVICE_HOST) return await loadInCluster(env, read);
  const path = kubeconfigPath(env);
  if (path === undefined) {
    throw new K8sConfigError(
      "No Kubernetes configuration: KUBERNETES_SERVICE_HOST, KUBECONFIG and HOME are all unset",
    );
  }
  let source: string;
  try {
    source = await read(path);
  } catch (cause) {
    throw new K8sConfigError(`Cannot read kubeconfig ${path}`, {
      cause,
      hint: "set KUBECONFIG, or run kcm in a pod with a service account",
    });
  }
  const entry = parseKubeconfig(source, path);
  const token = await readMaterial(entry.token, "token", read);
  return {
    server: entry.server,
    caPem: await readMaterial(entry.ca, "certificate-authority", read),
    insecureSkipTlsVerify: entry.insecureSkipTlsVerify,
    token: token?.trim(),
    clientCertPem: await readMaterial(
      entry.clientCert,
      "client-certificate",
      read,
    ),
    clientKeyPem: await readMaterial(entry.clientKey, "client-key", read),
    namespace: entry.namespace ?? "default",
    source: path,
  };
}
