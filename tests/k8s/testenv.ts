/**
 * A real Kubernetes control plane for kcm's tests: etcd and kube-apiserver
 * listening on 127.0.0.1, with TLS from a CA made for the run, static-token
 * and ServiceAccount-token authentication and RBAC authorization.
 *
 * By default there is no controller-manager, scheduler or kubelet: objects
 * are stored and validated by Kubernetes itself, but nothing reconciles them.
 * {@linkcode startControlPlane} therefore does by hand the few things those
 * components would do that tests rely on (the `default` ServiceAccount of the
 * `default` namespace, see {@linkcode createNamespace}). With
 * `{ controllers: true }` it also runs kube-controller-manager (garbage
 * collector, DaemonSet controller, ... see `controllers.ts`) and
 * kube-scheduler. `tests/k8s/test_kubelet.ts` plays the kubelet for pods
 * bound to fake nodes made with {@linkcode createNode}.
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
import {
  type ComponentSettings,
  CONTROLLER_MANAGER_USER,
  controllerManagerArgs,
  DEFAULT_CONTROLLERS,
  SCHEDULER_USER,
  schedulerArgs,
} from "./controllers.ts";
import {
  type Daemon,
  exitedReason,
  freePort,
  startDaemon,
  stopDaemon,
  tailFile,
  waitUntil,
} from "./daemon.ts";

export { detachedArgs, processUsage, tailFile } from "./daemon.ts";
export { DEFAULT_CONTROLLERS } from "./controllers.ts";

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

/** The object a token is bound to: a Pod (bound to a node) or a Node. */
export interface BoundObject {
  kind: "Pod" | "Node";
  name: string;
  uid: string;
}

/** Milliseconds from the call of {@linkcode startControlPlane} until each part answered. */
export interface StartTimings {
  /** etcd's `/health`. */
  etcdMs: number;
  /** kube-apiserver's `/readyz`. */
  apiserverMs: number;
  /** kube-controller-manager's `/healthz`, when started. */
  controllerManagerMs?: number;
  /** kube-scheduler's `/readyz`, when started. */
  schedulerMs?: number;
  /** Everything, just before the control plane is handed out. */
  totalMs: number;
}

/** Pids of the servers of a control plane (the binaries themselves). */
export interface ControlPlanePids {
  readonly etcd: number;
  readonly apiserver: number;
  readonly controllerManager?: number;
  readonly scheduler?: number;
}

/**
 * A running etcd + kube-apiserver pair, with kube-controller-manager and
 * kube-scheduler when asked for; stop it with `stop()` or `await using`.
 */
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
  /** `http://127.0.0.1:<port>`: etcd's client URL (`/health`, `/metrics`). */
  readonly etcdUrl: string;
  /** Pids of the running servers, for `/proc/<pid>/...` and signals. */
  readonly pids: ControlPlanePids;
  /** Path of the kube-controller-manager log, when it runs. */
  readonly controllerManagerLog: string | undefined;
  /** Path of the kube-scheduler log, when it runs. */
  readonly schedulerLog: string | undefined;
  /** The controllers kube-controller-manager runs; empty when it does not run. */
  readonly controllers: readonly string[];
  /** How long each part took to start. */
  readonly timings: StartTimings;
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
  /**
   * Fresh credentials of an existing ServiceAccount with a token bound to
   * a Pod or Node, as the kubelet mounts them: the API server then names
   * the node in the user's extra `authentication.kubernetes.io/node-name`
   * (what kcm's node agent admission policy reads). The token stops
   * working when the object is deleted.
   */
  boundServiceAccount(
    namespace: string,
    name: string,
    boundTo: BoundObject,
  ): Promise<ServiceAccountCredentials>;
  /** Kills every server it started and removes `dir`. Safe to call twice. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startControlPlane}. */
export interface StartControlPlaneOptions {
  /** Folder with the four binaries (see {@linkcode assetsDir}); default {@linkcode assetsDir}. */
  assets?: string;
  /** How long to wait for `/readyz`; default 90 s. */
  readyTimeoutMs?: number;
  /** Keep the temp folder after `stop()` (to read the logs). */
  keepDir?: boolean;
  /**
   * Run kube-controller-manager: `true` for {@linkcode DEFAULT_CONTROLLERS}
   * (garbage collector, DaemonSet controller, ...), or the list of
   * controllers to run. Default `false`: nothing reconciles objects.
   */
  controllers?: boolean | readonly string[];
  /** Run kube-scheduler; default: when kube-controller-manager runs. */
  scheduler?: boolean;
  /**
   * CustomResourceDefinitions to create, and wait for until Established,
   * before kube-controller-manager starts. The garbage collector watches
   * the resources it discovered at start; one created later is found only at
   * its next discovery sync, up to 30 s on, and until then deleting an
   * owner leaves that resource's dependents in place.
   */
  crds?: readonly CrdObject[];
}

/** A CustomResourceDefinition as sent to the API (only the name is read here). */
export interface CrdObject {
  metadata: { name: string };
  [field: string]: unknown;
}

const moduleDir = fileURLToPath(new URL(".", import.meta.url));
const buildScript = `${moduleDir}build_testenv.sh`;
const goModFile = `${moduleDir}testenv/go.mod`;
const decoder = new TextDecoder();

/** The binaries {@linkcode assetsDir} must hold. */
const BINARIES = [
  "etcd",
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
];

function hasBinaries(dir: string): boolean {
  return BINARIES.every((name) => {
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
 * Returns the folder holding `etcd`, `kube-apiserver`,
 * `kube-controller-manager` and `kube-scheduler`: `$KUBEBUILDER_ASSETS` when
 * it has all four, else the build cache
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
      `Cannot run ${buildScript} to build the test control plane`,
      { cause: error },
    );
  }
  const dir = decoder.decode(output.stdout).trim().split("\n").at(-1) ?? "";
  if (!output.success || !hasBinaries(dir)) {
    throw new Error(
      `Cannot obtain ${BINARIES.join(", ")}: ${buildScript} exited with ` +
        `code ${output.code}${dir ? ` and printed "${dir}"` : ""}. Set ` +
        `KUBEBUILDER_ASSETS to a folder holding all four, or install ` +
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

/** The controllers a run starts kube-controller-manager with ([]: none). */
function chosenControllers(options: StartControlPlaneOptions): string[] {
  const wanted = options.controllers ?? false;
  if (wanted === false) return [];
  return [...(wanted === true ? DEFAULT_CONTROLLERS : wanted)];
}

/** What {@linkcode startComponent} needs of the run. */
interface ComponentStart {
  assets: string;
  dir: string;
  url: string;
  caPem: string;
  client: Deno.HttpClient;
  timeoutMs: number;
  failed: () => Promise<string | undefined>;
}

/**
 * Starts kube-controller-manager or kube-scheduler with a kubeconfig of its
 * own user, adds it to `daemons` (so `stop()` stops it) and waits until its
 * health endpoint (`/healthz` or `/readyz` on its HTTPS port) answers 200.
 */
async function startComponent(
  name: "kube-controller-manager" | "kube-scheduler",
  run: ComponentStart,
  credentials: { user: string; token: string },
  args: (settings: ComponentSettings) => string[],
  healthPath: string,
  daemons: Daemon[],
): Promise<Daemon> {
  const kubeconfig = `${run.dir}/${name}.kubeconfig`;
  await Deno.writeTextFile(
    kubeconfig,
    kubeconfigYaml(run.url, credentials.user, credentials.token, {
      file: `${run.dir}/ca.crt`,
    }),
  );
  const port = freePort();
  const daemon = startDaemon(
    name,
    `${run.assets}/${name}`,
    args({
      kubeconfig,
      port,
      certFile: `${run.dir}/server.crt`,
      keyFile: `${run.dir}/server.key`,
    }),
    `${run.dir}/${name}.log`,
  );
  daemons.push(daemon);
  await waitUntil(
    `${name} on https://127.0.0.1:${port}${healthPath}`,
    run.timeoutMs,
    async () => {
      const response = await fetch(
        `https://127.0.0.1:${port}${healthPath}`,
        { client: run.client },
      );
      await response.body?.cancel();
      return response.status === 200;
    },
    run.failed,
  );
  return daemon;
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
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const timings: StartTimings = {
    etcdMs: 0,
    apiserverMs: 0,
    totalMs: 0,
  };
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
    const componentTokens = {
      controllerManager: randomHex(24),
      scheduler: randomHex(24),
    };
    await Deno.writeTextFile(
      `${dir}/tokens.csv`,
      [
        `${adminToken},kcm-test-admin,kcm-test-admin,"system:masters"`,
        // No groups: the bootstrap RBAC policy binds these users by name.
        `${componentTokens.controllerManager},${CONTROLLER_MANAGER_USER},` +
        CONTROLLER_MANAGER_USER,
        `${componentTokens.scheduler},${SCHEDULER_USER},${SCHEDULER_USER}`,
        "",
      ].join("\n"),
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

    const failed = () => exitedReason(daemons);
    const timeoutMs = options.readyTimeoutMs ?? 90_000;
    await waitUntil(
      `etcd on ${etcdUrl}`,
      timeoutMs,
      async () => {
        const response = await fetch(`${etcdUrl}/health`);
        await response.body?.cancel();
        return response.ok;
      },
      failed,
    );
    timings.etcdMs = elapsed();
    await waitUntil(
      `kube-apiserver on ${url}`,
      timeoutMs,
      async () => (await api("GET", "/readyz")).status === 200,
      failed,
    ).catch(async (error) => {
      throw new Error(
        `${
          (error as Error).message
        }\nlast lines of ${apiserverLog}:\n${await tailFile(
          apiserverLog,
        )}`,
      );
    });
    timings.apiserverMs = elapsed();

    const adminKubeconfig = `${dir}/admin.kubeconfig`;
    await Deno.writeTextFile(
      adminKubeconfig,
      kubeconfigYaml(url, "kcm-test-admin", adminToken, {
        file: `${dir}/ca.crt`,
      }),
    );

    for (const crd of options.crds ?? []) {
      await createCrd({ api }, crd, timeoutMs);
    }

    const controllers = chosenControllers(options);
    const wantScheduler = options.scheduler ?? controllers.length > 0;
    const componentStart = {
      assets,
      dir,
      url,
      caPem,
      client,
      timeoutMs,
      failed,
    };
    const [controllerManager, scheduler] = await Promise.all([
      controllers.length === 0 ? undefined : startComponent(
        "kube-controller-manager",
        componentStart,
        {
          user: CONTROLLER_MANAGER_USER,
          token: componentTokens.controllerManager,
        },
        (settings) =>
          controllerManagerArgs({
            ...settings,
            controllers,
            caFile: `${dir}/ca.crt`,
          }),
        "/healthz",
        daemons,
      ).then((daemon) => {
        timings.controllerManagerMs = elapsed();
        return daemon;
      }),
      !wantScheduler ? undefined : startComponent(
        "kube-scheduler",
        componentStart,
        { user: SCHEDULER_USER, token: componentTokens.scheduler },
        schedulerArgs,
        "/readyz",
        daemons,
      ).then((daemon) => {
        timings.schedulerMs = elapsed();
        return daemon;
      }),
    ]);
    timings.totalMs = elapsed();

    const accounts = new Map<string, ServiceAccountCredentials>();
    const issueCredentials = async (
      namespace: string,
      name: string,
      boundTo: BoundObject | undefined,
      saDir: string,
    ): Promise<ServiceAccountCredentials> => {
      const key = `${namespace}/${name}`;
      const { status, body } = await api(
        "POST",
        `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
        {
          apiVersion: "authentication.k8s.io/v1",
          kind: "TokenRequest",
          spec: {
            expirationSeconds: 3600,
            ...(boundTo
              ? { boundObjectRef: { apiVersion: "v1", ...boundTo } }
              : {}),
          },
        },
      );
      const token = body?.status?.token;
      if (status !== 201 || typeof token !== "string") {
        throw new Error(
          `TokenRequest for ServiceAccount ${key} failed: HTTP ${status} ` +
            JSON.stringify(body),
        );
      }
      await Deno.mkdir(saDir, { recursive: true });
      await Promise.all([
        Deno.writeTextFile(`${saDir}/token`, token),
        Deno.writeTextFile(`${saDir}/ca.crt`, caPem),
        Deno.writeTextFile(`${saDir}/namespace`, namespace),
        Deno.writeTextFile(
          `${saDir}/kubeconfig`,
          kubeconfigYaml(
            url,
            `system:serviceaccount:${namespace}:${name}`,
            token,
            { pem: caPem },
            namespace,
          ),
        ),
      ]);
      return {
        token,
        kubeconfig: `${saDir}/kubeconfig`,
        dir: saDir,
        inClusterEnv: {
          KUBERNETES_SERVICE_HOST: host,
          KUBERNETES_SERVICE_PORT: String(port),
          KCM_SERVICE_ACCOUNT_DIR: saDir,
        },
      };
    };
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
      etcdUrl,
      pids: {
        etcd: etcd.pid,
        apiserver: apiserver.pid,
        ...(controllerManager
          ? { controllerManager: controllerManager.pid }
          : {}),
        ...(scheduler ? { scheduler: scheduler.pid } : {}),
      },
      controllerManagerLog: controllerManager?.log,
      schedulerLog: scheduler?.log,
      controllers,
      timings,
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
        const credentials = await issueCredentials(
          namespace,
          name,
          undefined,
          `${dir}/serviceaccounts/${namespace}/${name}`,
        );
        accounts.set(key, credentials);
        return credentials;
      },
      boundServiceAccount(namespace, name, boundTo) {
        return issueCredentials(
          namespace,
          name,
          boundTo,
          `${dir}/serviceaccounts/${namespace}/${name}/${boundTo.kind.toLowerCase()}-${boundTo.uid}`,
        );
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

/**
 * Creates a CustomResourceDefinition unless it exists and waits until it is
 * Established (its resources are served); throws after `timeoutMs`.
 */
export async function createCrd(
  cp: Pick<ControlPlane, "api">,
  crd: CrdObject,
  timeoutMs = 30_000,
): Promise<void> {
  const path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
  await ensureCreated(cp, path, crd);
  await waitUntil(
    `CustomResourceDefinition ${crd.metadata.name} Established`,
    timeoutMs,
    async () => {
      const { body } = await cp.api("GET", `${path}/${crd.metadata.name}`);
      const conditions: { type: string; status: string }[] =
        body?.status?.conditions ?? [];
      return conditions.some((c) =>
        c.type === "Established" && c.status === "True"
      );
    },
    () => Promise.resolve(undefined),
  );
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
  /**
   * Status of the `Ready` condition; default true. Neither the DaemonSet
   * controller nor the scheduler reads it (they go by taints), but kcm's
   * node selection may.
   */
  ready?: boolean;
}

/**
 * Creates a fake Node (no kubelet behind it) that reports Ready, with the
 * given capacity written through the status subresource and exactly the
 * given taints. Returns the Node as stored.
 *
 * This is the shape the DaemonSet controller and the scheduler need to put
 * a pod on the node (tests/k8s/testenv_test.ts proves each point):
 * - no `node.kubernetes.io/not-ready:NoSchedule` taint: the admission chain
 *   adds it to every new Node and the node lifecycle controller (not run
 *   here) would lift it once the node is Ready; with it the DaemonSet
 *   controller creates no pod for the node;
 * - `status.allocatable` with `pods` (and the cpu and memory the pods
 *   request): without it the pod is created but stays Pending,
 *   Unschedulable ("Too many pods");
 * - other taints only when the DaemonSet tolerates them (`unschedulable`,
 *   i.e. cordoned, is tolerated by every DaemonSet pod).
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
          status: options.ready === false ? "False" : "True",
          reason: options.ready === false ? "KubeletNotReady" : "KubeletReady",
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
