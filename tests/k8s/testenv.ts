/**
 * A real Kubernetes control plane for kcm's tests: etcd and kube-apiserver
 * listening on 127.0.0.1, with TLS from a CA made for the run, static-token
 * and ServiceAccount-token authentication and RBAC authorization.
 *
 * There is no controller-manager, scheduler or kubelet: objects are stored
 * and validated by Kubernetes itself, but nothing reconciles them.
 * {@linkcode startControlPlane} therefore does by hand the few things those
 * components would do that tests rely on (the `default` ServiceAccount of the
 * `default` namespace, see {@linkcode createNamespace}), and
 * `tests/k8s/test_kubelet.ts` plays the kubelet for pods bound to fake nodes
 * made with {@linkcode createNode}.
 *
 * The binaries come from {@linkcode assetsDir}: `$KUBEBUILDER_ASSETS`, else
 * the build cache, else `tests/k8s/build_testenv.sh` builds them.
 *
 * @example One control plane for a whole test file
 * ```ts ignore
 * Deno.test("discover publishes the node capacity", async (t) => {
 *   await using cp = await startControlPlane();
 *   await createNode(cp, "node-1");
 *   await t.step("...", async () => {
 *     const { status, body } = await cp.api("GET", "/api/v1/nodes/node-1");
 *   });
 * });
 * ```
 */

import { fileURLToPath } from "node:url";
import { stringify as stringifyYaml } from "yaml";

/** Result of {@linkcode ControlPlane.api}: the HTTP status and the body, parsed when it is JSON. */
export interface ApiResponse {
  status: number;
  // deno-lint-ignore no-explicit-any
  body: any;
}

/** Options of {@linkcode ControlPlane.api}. */
export interface ApiOptions {
  /** Content type of the body; default `application/json`. */
  contentType?: string;
  /** Bearer token to authenticate with; default the admin token. */
  token?: string;
}

/** Credentials of a ServiceAccount, from {@linkcode ControlPlane.serviceAccount}. */
export interface ServiceAccountCredentials {
  /** A bound token from the TokenRequest API (valid one hour). */
  token: string;
  /** Path of a kubeconfig that authenticates with `token` (CA embedded as data). */
  kubeconfig: string;
  /** Folder holding `token`, `ca.crt` and `namespace`, as mounted in a pod. */
  dir: string;
  /**
   * Environment that makes kcm load the in-cluster configuration as this
   * ServiceAccount: `KUBERNETES_SERVICE_HOST`, `KUBERNETES_SERVICE_PORT` and
   * `KCM_SERVICE_ACCOUNT_DIR` (= `dir`).
   */
  inClusterEnv: Record<string, string>;
}

/** A running etcd + kube-apiserver pair; stop it with `stop()` or `await using`. */
export interface ControlPlane extends AsyncDisposable {
  /** `https://127.0.0.1:<port>`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Path of the PEM file of the CA that signed the serving certificate. */
  readonly caFile: string;
  readonly caPem: string;
  /** Static token of user `kcm-test-admin`, member of `system:masters`. */
  readonly adminToken: string;
  /** Path of a kubeconfig with the admin token (CA as a file path). */
  readonly adminKubeconfig: string;
  /** The run's temp folder (certificates, etcd data, logs); removed by `stop()`. */
  readonly dir: string;
  /** Path of the kube-apiserver log. */
  readonly apiserverLog: string;
  /** Path of the etcd log. */
  readonly etcdLog: string;
  /**
   * Sends one request to the API server (as admin unless `token` is given).
   * Objects are sent as JSON; strings as they are.
   */
  api(
    method: string,
    path: string,
    body?: unknown,
    options?: ApiOptions,
  ): Promise<ApiResponse>;
  /**
   * Creates the namespace and ServiceAccount when missing and returns fresh
   * credentials for it from the TokenRequest API.
   */
  serviceAccount(
    namespace: string,
    name: string,
  ): Promise<ServiceAccountCredentials>;
  /** Kills kube-apiserver and etcd and removes `dir`. Safe to call twice. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startControlPlane}. */
export interface StartControlPlaneOptions {
  /** Folder with `etcd` and `kube-apiserver`; default {@linkcode assetsDir}. */
  assets?: string;
  /** How long to wait for `/readyz`; default 90 s. */
  readyTimeoutMs?: number;
  /** Keep the temp folder after `stop()` (to read the logs). */
  keepDir?: boolean;
}

const moduleDir = fileURLToPath(new URL(".", import.meta.url));
const buildScript = `${moduleDir}build_testenv.sh`;
const goModFile = `${moduleDir}testenv/go.mod`;
const decoder = new TextDecoder();

function hasBinaries(dir: string): boolean {
  return ["etcd", "kube-apiserver"].every((name) => {
    try {
      const info = Deno.statSync(`${dir}/${name}`);
      return info.isFile && ((info.mode ?? 0o100) & 0o111) !== 0;
    } catch {
      return false;
    }
  });
}

/** Kubernetes version pinned in `tests/k8s/testenv/go.mod`, e.g. `v1.36.3`. */
export async function pinnedKubernetesVersion(): Promise<string> {
  const text = await Deno.readTextFile(goModFile);
  const match = /^\s*k8s\.io\/kubernetes\s+(v\S+)/m.exec(text);
  if (!match?.[1]) {
    throw new Error(
      `Cannot find the k8s.io/kubernetes version in ${goModFile}`,
    );
  }
  return match[1];
}

/**
 * Returns the folder holding `etcd` and `kube-apiserver`: `$KUBEBUILDER_ASSETS`
 * when it has both, else the build cache
 * (`${KCM_TESTENV_CACHE:-$HOME/.cache/kcm-testenv}/<version>`), else the
 * folder printed by `tests/k8s/build_testenv.sh` after it built them (its
 * progress goes to stderr). Throws with the reason when none works.
 */
export async function assetsDir(): Promise<string> {
  const fromEnv = Deno.env.get("KUBEBUILDER_ASSETS");
  if (fromEnv && hasBinaries(fromEnv)) return fromEnv;
  const cacheRoot = Deno.env.get("KCM_TESTENV_CACHE") ??
    `${Deno.env.get("HOME") ?? "/tmp"}/.cache/kcm-testenv`;
  const cached = `${cacheRoot}/${await pinnedKubernetesVersion()}`;
  if (hasBinaries(cached)) return cached;
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("bash", {
      args: [buildScript],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).output();
  } catch (error) {
    throw new Error(
      `Cannot run ${buildScript} to build etcd and kube-apiserver`,
      { cause: error },
    );
  }
  const dir = decoder.decode(output.stdout).trim().split("\n").at(-1) ?? "";
  if (!output.success || !hasBinaries(dir)) {
    throw new Error(
      `Cannot obtain etcd and kube-apiserver: ${buildScript} exited with ` +
        `code ${output.code}${dir ? ` and printed "${dir}"` : ""}. Set ` +
        `KUBEBUILDER_ASSETS to a folder holding both binaries, or install ` +
        `Go >= 1.26 with access to the Go module proxy`,
    );
  }
  return dir;
}

/** Random lowercase hex string of `bytes` bytes. */
export function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function openssl(cwd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `openssl ${args.join(" ")} failed: ${decoder.decode(out.stderr).trim()}`,
    );
  }
}

/** Writes the CA, the serving certificate and the ServiceAccount key pair into `dir`. */
async function writeCertificates(dir: string): Promise<void> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
  await Promise.all([
    openssl(dir, [
      "req",
      "-x509",
      ...ec,
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-days",
      "2",
      "-subj",
      "/CN=kcm-test-ca",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]),
    openssl(dir, [
      "req",
      ...ec,
      "-nodes",
      "-keyout",
      "server.key",
      "-out",
      "server.csr",
      "-subj",
      "/CN=kube-apiserver",
    ]),
    openssl(dir, [
      "genpkey",
      "-algorithm",
      "RSA",
      "-pkeyopt",
      "rsa_keygen_bits:2048",
      "-out",
      "sa.key",
    ]),
    Deno.writeTextFile(
      `${dir}/server.ext`,
      [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        "extendedKeyUsage=serverAuth",
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes," +
        "DNS:kubernetes.default,DNS:kubernetes.default.svc",
        "",
      ].join("\n"),
    ),
  ]);
  await Promise.all([
    openssl(dir, [
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-out",
      "server.crt",
      "-extfile",
      "server.ext",
    ]),
    openssl(dir, ["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"]),
  ]);
}

/** A child process whose stdout and stderr go straight to `log`. */
interface Daemon {
  name: string;
  child: Deno.ChildProcess;
  log: string;
  exited: boolean;
  status: Promise<Deno.CommandStatus>;
}

/**
 * Arguments for `setsid` that run `argv` in its own process group (so it
 * can be killed as a whole), killed with its parent (`--pdeathsig`, so
 * nothing outlives a crashed test run), output appended to `log`.
 */
export function detachedArgs(log: string, argv: readonly string[]): string[] {
  return [
    "setpriv",
    "--pdeathsig",
    "KILL",
    "--",
    "bash",
    "-c",
    'exec "$@" >>"$0" 2>&1',
    log,
    ...argv,
  ];
}

/**
 * Starts `binary args...` with stdout and stderr appended to `log`, in its own
 * process group, with SIGKILL as parent-death signal so a crashed test run
 * leaves nothing behind.
 */
function startDaemon(
  name: string,
  binary: string,
  args: string[],
  log: string,
): Daemon {
  const child = new Deno.Command("setsid", {
    args: detachedArgs(log, [binary, ...args]),
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const daemon: Daemon = {
    name,
    child,
    log,
    exited: false,
    status: child.status,
  };
  daemon.status = child.status.then((status) => {
    daemon.exited = true;
    return status;
  });
  return daemon;
}

async function stopDaemon(daemon: Daemon): Promise<void> {
  if (daemon.exited) return;
  const signal = (sig: Deno.Signal) => {
    try {
      Deno.kill(-daemon.child.pid, sig);
    } catch {
      // already gone
    }
  };
  signal("SIGTERM");
  const timer = setTimeout(() => signal("SIGKILL"), 5000);
  try {
    await daemon.status;
  } finally {
    clearTimeout(timer);
  }
}

/** The last `lines` lines of a text file ("" when unreadable). */
export async function tailFile(path: string, lines = 40): Promise<string> {
  try {
    const text = await Deno.readTextFile(path);
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `probe` with backoff until it resolves true; throws when `failed`
 * returns a reason (a process died) or after `timeoutMs`.
 */
async function waitUntil(
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
  failed: () => Promise<string | undefined>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 50;
  while (true) {
    const reason = await failed();
    if (reason !== undefined) throw new Error(`${what}: ${reason}`);
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: not ready after ${timeoutMs} ms${(await failed()) ?? ""}`,
      );
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 500);
  }
}

/** A kubeconfig document for one cluster, user and context. */
function kubeconfigYaml(
  url: string,
  user: string,
  token: string,
  ca: { file: string } | { pem: string },
  namespace?: string,
): string {
  const cluster = "file" in ca
    ? { server: url, "certificate-authority": ca.file }
    : {
      server: url,
      "certificate-authority-data": btoa(ca.pem),
    };
  return stringifyYaml({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "kcm-test", cluster }],
    users: [{ name: user, user: { token } }],
    contexts: [{
      name: `${user}@kcm-test`,
      context: {
        cluster: "kcm-test",
        user,
        ...(namespace ? { namespace } : {}),
      },
    }],
    "current-context": `${user}@kcm-test`,
    preferences: {},
  });
}

/**
 * Starts etcd and kube-apiserver on free loopback ports and waits for
 * `/readyz`. Throws (after stopping whatever started) with the tail of the
 * apiserver log when it does not come up.
 */
export async function startControlPlane(
  options: StartControlPlaneOptions = {},
): Promise<ControlPlane> {
  const assets = options.assets ?? await assetsDir();
  // A port found free can be taken by a parallel test file before etcd or
  // kube-apiserver binds it; start again with new ports then.
  for (let attempt = 1;; attempt++) {
    try {
      return await startOnce(assets, options);
    } catch (error) {
      const message = error instanceof Error ? error.message : "";
      if (attempt >= 3 || !/address already in use/.test(message)) throw error;
    }
  }
}

async function startOnce(
  assets: string,
  options: StartControlPlaneOptions,
): Promise<ControlPlane> {
  const dir = await Deno.makeTempDir({ prefix: "kcm-testenv-" });
  const daemons: Daemon[] = [];
  let httpClient: Deno.HttpClient | undefined;
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      // The apiserver first, so it does not log etcd errors while dying.
      for (const daemon of [...daemons].reverse()) await stopDaemon(daemon);
      httpClient?.close();
      if (!options.keepDir) {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    })();
    return stopped;
  };

  try {
    await writeCertificates(dir);
    const caPem = await Deno.readTextFile(`${dir}/ca.crt`);
    const adminToken = randomHex(24);
    await Deno.writeTextFile(
      `${dir}/tokens.csv`,
      `${adminToken},kcm-test-admin,kcm-test-admin,"system:masters"\n`,
    );

    const etcdPort = freePort();
    const peerPort = freePort();
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const etcd = startDaemon("etcd", `${assets}/etcd`, [
      "--name=kcm-test",
      `--data-dir=${dir}/etcd`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=kcm-test=${peerUrl}`,
      "--unsafe-no-fsync",
      "--log-level=warn",
    ], `${dir}/etcd.log`);
    daemons.push(etcd);

    const host = "127.0.0.1";
    const port = freePort();
    const url = `https://${host}:${port}`;
    const apiserverLog = `${dir}/kube-apiserver.log`;
    const apiserver = startDaemon(
      "kube-apiserver",
      `${assets}/kube-apiserver`,
      [
        `--etcd-servers=${etcdUrl}`,
        `--bind-address=${host}`,
        `--advertise-address=${host}`,
        `--secure-port=${port}`,
        `--cert-dir=${dir}/certs`,
        `--tls-cert-file=${dir}/server.crt`,
        `--tls-private-key-file=${dir}/server.key`,
        `--client-ca-file=${dir}/ca.crt`,
        `--token-auth-file=${dir}/tokens.csv`,
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        `--service-account-key-file=${dir}/sa.pub`,
        `--service-account-signing-key-file=${dir}/sa.key`,
        "--service-cluster-ip-range=10.0.0.0/24",
        "--authorization-mode=Node,RBAC",
        "--allow-privileged=true",
        "--profiling=false",
        "--v=1",
      ],
      apiserverLog,
    );
    daemons.push(apiserver);

    httpClient = Deno.createHttpClient({ caCerts: [caPem] });
    const client = httpClient;
    const api = async (
      method: string,
      path: string,
      body?: unknown,
      apiOptions: ApiOptions = {},
    ): Promise<ApiResponse> => {
      const headers: Record<string, string> = {
        authorization: `Bearer ${apiOptions.token ?? adminToken}`,
        accept: "application/json",
      };
      let payload: string | undefined;
      if (body !== undefined) {
        payload = typeof body === "string" ? body : JSON.stringify(body);
        headers["content-type"] = apiOptions.contentType ??
          "application/json";
      }
      const response = await fetch(`${url}${path}`, {
        method,
        headers,
        client,
        ...(payload === undefined ? {} : { body: payload }),
      });
      const text = await response.text();
      let parsed: unknown = text;
      if (
        (response.headers.get("content-type") ?? "").includes("json") && text
      ) {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = text;
        }
      }
      return { status: response.status, body: parsed };
    };

    const exitedReason = async (): Promise<string | undefined> => {
      for (const daemon of daemons) {
        if (daemon.exited) {
          const status = await daemon.status;
          return `${daemon.name} exited with code ${status.code}; last lines ` +
            `of ${daemon.log}:\n${await tailFile(daemon.log)}`;
        }
      }
      return undefined;
    };
    const timeoutMs = options.readyTimeoutMs ?? 90_000;
    await waitUntil(
      `etcd on ${etcdUrl}`,
      timeoutMs,
      async () => {
        const response = await fetch(`${etcdUrl}/health`);
        await response.body?.cancel();
        return response.ok;
      },
      exitedReason,
    );
    await waitUntil(
      `kube-apiserver on ${url}`,
      timeoutMs,
      async () => (await api("GET", "/readyz")).status === 200,
      exitedReason,
    ).catch(async (error) => {
      throw new Error(
        `${
          (error as Error).message
        }\nlast lines of ${apiserverLog}:\n${await tailFile(
          apiserverLog,
        )}`,
      );
    });

    const adminKubeconfig = `${dir}/admin.kubeconfig`;
    await Deno.writeTextFile(
      adminKubeconfig,
      kubeconfigYaml(url, "kcm-test-admin", adminToken, {
        file: `${dir}/ca.crt`,
      }),
    );

    const accounts = new Map<string, ServiceAccountCredentials>();
    const cp: ControlPlane = {
      url,
      host,
      port,
      caFile: `${dir}/ca.crt`,
      caPem,
      adminToken,
      adminKubeconfig,
      dir,
      apiserverLog,
      etcdLog: etcd.log,
      api,
      async serviceAccount(namespace, name) {
        const key = `${namespace}/${name}`;
        const known = accounts.get(key);
        if (known) return known;
        await createNamespace(cp, namespace);
        await ensureCreated(
          cp,
          `/api/v1/namespaces/${namespace}/serviceaccounts`,
          { apiVersion: "v1", kind: "ServiceAccount", metadata: { name } },
        );
        const { status, body } = await api(
          "POST",
          `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
          {
            apiVersion: "authentication.k8s.io/v1",
            kind: "TokenRequest",
            spec: { expirationSeconds: 3600 },
          },
        );
        const token = body?.status?.token;
        if (status !== 201 || typeof token !== "string") {
          throw new Error(
            `TokenRequest for ServiceAccount ${key} failed: HTTP ${status} ` +
              JSON.stringify(body),
          );
        }
        const saDir = `${dir}/serviceaccounts/${namespace}/${name}`;
        await Deno.mkdir(saDir, { recursive: true });
        await Promise.all([
          Deno.writeTextFile(`${saDir}/token`, token),
          Deno.writeTextFile(`${saDir}/ca.crt`, caPem),
          Deno.writeTextFile(`${saDir}/namespace`, namespace),
          Deno.writeTextFile(
            `${saDir}/kubeconfig`,
            kubeconfigYaml(
              url,
              `system:serviceaccount:${key.replace("/", ":")}`,
              token,
              { pem: caPem },
              namespace,
            ),
          ),
        ]);
        const credentials: ServiceAccountCredentials = {
          token,
          kubeconfig: `${saDir}/kubeconfig`,
          dir: saDir,
          inClusterEnv: {
            KUBERNETES_SERVICE_HOST: host,
            KUBERNETES_SERVICE_PORT: String(port),
            KCM_SERVICE_ACCOUNT_DIR: saDir,
          },
        };
        accounts.set(key, credentials);
        return credentials;
      },
      stop,
      [Symbol.asyncDispose]: stop,
    };
    // The controller-manager would create this; pods need it to be admitted.
    await createNamespace(cp, "default");
    return cp;
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * POSTs `object` to `collectionPath` unless it exists (409 is fine) and
 * returns the HTTP status (201 or 409). Throws on any other status.
 */
export async function ensureCreated(
  cp: Pick<ControlPlane, "api">,
  collectionPath: string,
  object: { metadata: { name: string }; [field: string]: unknown },
): Promise<number> {
  const { status, body } = await cp.api("POST", collectionPath, object);
  if (status !== 201 && status !== 409) {
    throw new Error(
      `Cannot create ${collectionPath}/${object.metadata.name}: HTTP ${status} ` +
        JSON.stringify(body),
    );
  }
  return status;
}

/**
 * Creates namespace `name` when missing, with the `default` ServiceAccount
 * the controller-manager would add (the ServiceAccount admission plugin
 * rejects pods whose ServiceAccount does not exist).
 */
export async function createNamespace(
  cp: Pick<ControlPlane, "api">,
  name: string,
): Promise<void> {
  await ensureCreated(cp, "/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name },
  });
  await ensureCreated(cp, `/api/v1/namespaces/${name}/serviceaccounts`, {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name: "default" },
  });
}

/** A Node taint. */
export interface Taint {
  key: string;
  value?: string;
  effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
}

/** Options of {@linkcode createNode}. */
export interface CreateNodeOptions {
  /** Status capacity (and allocatable); default cpu 4, memory 8Gi, pods 110. */
  capacity?: Record<string, string>;
  /** Allocatable when it differs from `capacity`. */
  allocatable?: Record<string, string>;
  /** Extra labels; `kubernetes.io/hostname` and `kubernetes.io/os` are always set. */
  labels?: Record<string, string>;
  unschedulable?: boolean;
  taints?: Taint[];
}

/**
 * Creates a fake Node (no kubelet behind it) that reports Ready, with the
 * given capacity written through the status subresource and exactly the
 * given taints. Returns the Node as stored.
 */
export async function createNode(
  cp: Pick<ControlPlane, "api">,
  name: string,
  options: CreateNodeOptions = {},
  // deno-lint-ignore no-explicit-any
): Promise<any> {
  const created = await cp.api("POST", "/api/v1/nodes", {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      labels: {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        ...options.labels,
      },
    },
    spec: {
      ...(options.unschedulable ? { unschedulable: true } : {}),
      ...(options.taints ? { taints: options.taints } : {}),
    },
  });
  if (created.status !== 201) {
    throw new Error(
      `Cannot create node ${name}: HTTP ${created.status} ${
        JSON.stringify(created.body)
      }`,
    );
  }
  const capacity = options.capacity ??
    { cpu: "4", memory: "8Gi", pods: "110" };
  const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const patched = await cp.api(
    "PATCH",
    `/api/v1/nodes/${name}/status`,
    {
      status: {
        capacity,
        allocatable: options.allocatable ?? capacity,
        conditions: [{
          type: "Ready",
          status: "True",
          reason: "KubeletReady",
          message: "fake node of the kcm test environment",
          lastHeartbeatTime: now,
          lastTransitionTime: now,
        }],
        addresses: [
          { type: "InternalIP", address: "127.0.0.1" },
          { type: "Hostname", address: name },
        ],
        nodeInfo: {
          architecture: "amd64",
          operatingSystem: "linux",
          osImage: "kcm test node",
          kernelVersion: "",
          kubeletVersion: "v0.0.0-kcm-test",
          kubeProxyVersion: "",
          containerRuntimeVersion: "kcm-test://0",
          machineID: "",
          systemUUID: "",
          bootID: "",
        },
      },
    },
    { contentType: "application/merge-patch+json" },
  );
  if (patched.status !== 200) {
    throw new Error(
      `Cannot set the status of node ${name}: HTTP ${patched.status} ${
        JSON.stringify(patched.body)
      }`,
    );
  }
  // The TaintNodesByCondition admission plugin adds the not-ready taint on
  // create; the node lifecycle controller (absent here) would lift it once
  // the node reports Ready. Leave exactly the requested taints.
  const untainted = await cp.api(
    "PATCH",
    `/api/v1/nodes/${name}`,
    { spec: { taints: options.taints ?? null } },
    { contentType: "application/merge-patch+json" },
  );
  if (untainted.status !== 200) {
    throw new Error(
      `Cannot set the taints of node ${name}: HTTP ${untainted.status} ${
        JSON.stringify(untainted.body)
      }`,
    );
  }
  return untainted.body;
}
