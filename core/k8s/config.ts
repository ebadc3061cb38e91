/**
 * Where kcm's Kubernetes client connects and how it authenticates.
 *
 * `--kubeconfig=<file>` (that file alone) or `--context=<name>` pick a
 * kubeconfig. Without them, in a pod (`KUBERNETES_SERVICE_HOST` set) the
 * service account's token, `ca.crt` and `namespace` files are read from
 * `KCM_SERVICE_ACCOUNT_DIR` (default
 * `/var/run/secrets/kubernetes.io/serviceaccount`). Elsewhere the files of
 * `KUBECONFIG` (a `:`-separated list, merged like kubectl does, files that
 * do not exist skipped), else `$HOME/.kube/config`: the chosen context's
 * cluster, user and namespace. Supported credentials: `token`,
 * `tokenFile`, client certificate and key (inline `-data` or files).
 * `exec` and `auth-provider` plugins are not.
 *
 * A plain `http://` server is refused unless `--insecure-http` is given:
 * the token would cross the network in clear text.
 *
 * The kubeconfig text is parsed by kubeconfig.ts. {@linkcode inClusterServer}
 * and {@linkcode kubeconfigPath} are pure; {@linkcode loadClientConfig}
 * reads files through the reader it is given.
 */

import type { ConnectionFlags } from "../connection_flags.ts";
import { K8sConfigError } from "./errors.ts";
import {
  type KubeconfigFile,
  type Material,
  mergeKubeconfigs,
} from "./kubeconfig.ts";
import { quote } from "../quote.ts";

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

/**
 * The kubeconfig files kcm reads for `env`, in merge order: the
 * `KUBECONFIG` list (empty entries and repeats dropped), else
 * `$HOME/.kube/config`; empty without either.
 *
 * @example
 * ```ts
 * import { kubeconfigPaths } from "./config.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(kubeconfigPaths({ KUBECONFIG: ":/a:/b:/a" }), ["/a", "/b"]);
 * assert.deepEqual(kubeconfigPaths({ HOME: "/h/" }), ["/h/.kube/config"]);
 * ```
 */
export function kubeconfigPaths(
  env: Readonly<Record<string, string>>,
): string[] {
  const list = (env.KUBECONFIG ?? "").split(":").filter((p) => p !== "");
  if (list.length > 0) return [...new Set(list)];
  return env.HOME ? [`${env.HOME.replace(/\/+$/, "")}/.kube/config`] : [];
}

function isNotFound(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound;
}

/** Reads the kubeconfig files: `--kubeconfig`, else the KUBECONFIG list. */
async function readKubeconfigs(
  env: Readonly<Record<string, string>>,
  flags: ConnectionFlags,
  read: ReadTextFile,
): Promise<KubeconfigFile[]> {
  if (flags.kubeconfig !== undefined) {
    try {
      return [{ path: flags.kubeconfig, text: await read(flags.kubeconfig) }];
    } catch (cause) {
      throw new K8sConfigError(`Cannot read kubeconfig ${flags.kubeconfig}`, {
        cause,
      });
    }
  }
  const paths = kubeconfigPaths(env);
  if (paths.length === 0) {
    throw new K8sConfigError(
      "No Kubernetes configuration: KUBERNETES_SERVICE_HOST, KUBECONFIG and HOME are all unset",
    );
  }
  const files: KubeconfigFile[] = [];
  for (const path of paths) {
    try {
      files.push({ path, text: await read(path) });
    } catch (cause) {
      // kubectl skips KUBECONFIG entries that do not exist.
      if (isNotFound(cause) && paths.length > 1) continue;
      throw new K8sConfigError(`Cannot read kubeconfig ${path}`, {
        cause,
        hint:
          "set KUBECONFIG or give --kubeconfig, or run kcm in a pod with a service account",
      });
    }
  }
  if (files.length === 0) {
    throw new K8sConfigError(
      `None of the kubeconfig files of KUBECONFIG exists: ${paths.join(", ")}`,
    );
  }
  return files;
}

/** Refuses a plain-HTTP server unless the caller allowed it. */
function checkScheme(
  server: string,
  source: string,
  flags: ConnectionFlags,
): void {
  if (!server.startsWith("http:") || flags.insecureHttp) return;
  throw new K8sConfigError(
    `${source}: server ${
      quote(server)
    } is plain HTTP; kcm does not send credentials in clear text`,
    {
      hint:
        "use the https:// address of the API server, or give --insecure-http for a test server",
    },
  );
}

/**
 * Loads the client settings for `env` and the connection `flags`:
 * `--kubeconfig`/`--context` first, else in-cluster when
 * `KUBERNETES_SERVICE_HOST` is set, else the kubeconfig files. Reads files
 * only through `read`.
 */
export async function loadClientConfig(
  env: Readonly<Record<string, string>>,
  read: ReadTextFile,
  flags: ConnectionFlags = {},
): Promise<ClientConfig> {
  const explicit = flags.kubeconfig !== undefined ||
    flags.context !== undefined;
  if (env.KUBERNETES_SERVICE_HOST && !explicit) {
    return await loadInCluster(env, read);
  }
  const files = await readKubeconfigs(env, flags, read);
  const entry = mergeKubeconfigs(files, flags.context);
  checkScheme(entry.server, entry.source, flags);
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
    source: entry.source,
  };
}
