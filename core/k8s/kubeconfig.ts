/**
 * Reading kubeconfig texts: the chosen context's cluster, user and
 * namespace, with credentials given inline (`-data`, `token`) or as files
 * to read (resolved against the directory of the kubeconfig that named
 * them, as kubectl does). Pure; loading the files is config.ts's job.
 *
 * Several files (a `KUBECONFIG` list) merge the way kubectl merges them:
 * the first file to name a context, cluster or user wins that name, and
 * `current-context` comes from the first file that sets it. A context
 * given by the caller (`--context`) replaces `current-context`.
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

/** One kubeconfig file's text and where it was read from. */
export interface KubeconfigFile {
  readonly path: string;
  readonly text: string;
}

/** The chosen context of a kubeconfig, file references resolved to paths. */
export interface KubeconfigEntry {
  /** The context's name. */
  readonly context: string;
  /** The file that defined the context's cluster (server, CA). */
  readonly source: string;
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

/** A named entry of one of the three lists, with the file it came from. */
interface Named {
  readonly body: Dict;
  readonly path: string;
}

/** The merged lists of several kubeconfig files. */
interface Merged {
  readonly paths: string;
  readonly currentContext: string | undefined;
  readonly lists: Record<"context" | "cluster" | "user", Map<string, Named>>;
}

function parseDocument(file: KubeconfigFile): Dict {
  let doc: unknown;
  try {
    doc = parseYaml(file.text);
  } catch (cause) {
    throw new K8sConfigError(`Kubeconfig ${file.path} is not valid YAML`, {
      cause,
    });
  }
  // An empty file is an empty kubeconfig, as kubectl reads it.
  if (doc === null || doc === undefined) return {};
  if (!isDict(doc)) {
    throw new K8sConfigError(`Kubeconfig ${file.path} is not a YAML mapping`);
  }
  return doc;
}

function merge(files: readonly KubeconfigFile[]): Merged {
  const lists: Merged["lists"] = {
    context: new Map(),
    cluster: new Map(),
    user: new Map(),
  };
  let currentContext: string | undefined;
  for (const file of files) {
    const doc = parseDocument(file);
    currentContext ??= text(doc, "current-context");
    for (const what of ["context", "cluster", "user"] as const) {
      const list = doc[`${what}s`];
      if (list === undefined || list === null) continue;
      if (!Array.isArray(list)) {
        throw new K8sConfigError(
          `Kubeconfig ${file.path}: ${what}s is not a list`,
        );
      }
      for (const item of list) {
        if (!isDict(item) || typeof item.name !== "string") continue;
        if (lists[what].has(item.name)) continue;
        const body = item[what];
        lists[what].set(item.name, {
          body: isDict(body) ? body : {},
          path: file.path,
        });
      }
    }
  }
  return {
    paths: files.map((f) => f.path).join(":"),
    currentContext,
    lists,
  };
}

function named(
  merged: Merged,
  what: "context" | "cluster" | "user",
  name: string,
): Named {
  const found = merged.lists[what].get(name);
  if (found === undefined) {
    throw new K8sConfigError(
      `Kubeconfig ${merged.paths} has no ${what} ${quote(name)}`,
      what === "context"
        ? { hint: "list the contexts with `kubectl config get-contexts`" }
        : {},
    );
  }
  return found;
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
 * Picks the current context of one kubeconfig text (or `context` when
 * given). Relative file names are resolved against the kubeconfig's
 * directory, like kubectl does.
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
export function parseKubeconfig(
  source: string,
  path: string,
  context?: string,
): KubeconfigEntry {
  return mergeKubeconfigs([{ path, text: source }], context);
}

/**
 * Merges kubeconfig files as kubectl does (first definition of a name
 * wins, `current-context` from the first file that sets it) and picks
 * `context`, else the current context.
 *
 * @example
 * ```ts
 * import { mergeKubeconfigs } from "./kubeconfig.ts";
 * import assert from "node:assert/strict";
 * const entry = mergeKubeconfigs([
 *   { path: "/a/config", text: "current-context: prod\nusers: [{name: me, user: {tokenFile: tok}}]" },
 *   { path: "/b/config", text: [
 *     "current-context: ignored",
 *     "contexts: [{name: prod, context: {cluster: p, user: me}}]",
 *     "clusters: [{name: p, cluster: {server: 'https://p:6443'}}]",
 *     "users: [{name: me, user: {token: shadowed}}]",
 *   ].join("\n") },
 * ]);
 * assert.equal(entry.context, "prod");
 * assert.equal(entry.server, "https://p:6443");
 * assert.deepEqual(entry.token, { file: "/a/tok" });
 * ```
 */
export function mergeKubeconfigs(
  files: readonly KubeconfigFile[],
  context?: string,
): KubeconfigEntry {
  const merged = merge(files);
  const current = context ?? merged.currentContext;
  if (current === undefined) {
    throw new K8sConfigError(
      `Kubeconfig ${merged.paths} has no current-context`,
      { hint: "run `kubectl config use-context <name>`, or give --context" },
    );
  }
  const contextEntry = named(merged, "context", current);
  const clusterName = text(contextEntry.body, "cluster");
  if (clusterName === undefined) {
    throw new K8sConfigError(
      `Kubeconfig ${contextEntry.path}: context ${
        quote(current)
      } names no cluster`,
    );
  }
  const clusterEntry = named(merged, "cluster", clusterName);
  const cluster = clusterEntry.body;
  const path = clusterEntry.path;
  const userName = text(contextEntry.body, "user");
  const userEntry = userName === undefined
    ? { body: {}, path: contextEntry.path }
    : named(merged, "user", userName);
  const user = userEntry.body;
  const userPath = userEntry.path;
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
    context: current,
    source: path,
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
      ? { file: resolvePath(tokenFile, userPath) }
      : undefined,
    clientCert: material(
      user,
      "client-certificate-data",
      "client-certificate",
      userPath,
    ),
    clientKey: material(user, "client-key-data", "client-key", userPath),
    namespace: text(contextEntry.body, "namespace"),
  };
  if (
    entry.token === undefined && entry.clientCert === undefined &&
    (isDict(user.exec) || isDict(user["auth-provider"]))
  ) {
    throw new K8sConfigError(
      `Kubeconfig ${userPath}: user ${
        quote(userName)
      } uses an exec or auth-provider plugin, which kcm does not support`,
      { hint: "use a kubeconfig with a token or a client certificate" },
    );
  }
  if ((entry.clientCert === undefined) !== (entry.clientKey === undefined)) {
    throw new K8sConfigError(
      `Kubeconfig ${userPath}: user ${
        quote(userName)
      } has a client certificate without a key or a key without a certificate`,
    );
  }
  return entry;
}
