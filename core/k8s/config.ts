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
 * The kubeconfig text is parsed by kubeconfig.ts. {@linkcode inClusterServer}
 * and {@linkcode kubeconfigPath} are pure; {@linkcode loadClientConfig}
 * reads files through the reader it is given.
 */

import { K8sConfigError } from "./errors.ts";
import { type Material, parseKubeconfig } from "./kubeconfig.ts";

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

/** The default service-account mount of a pod. */
const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

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
