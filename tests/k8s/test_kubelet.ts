/**
 * A test kubelet for the control plane of `tests/k8s/testenv.ts`: it polls
 * the pods bound to some fake nodes (`spec.nodeName`) and runs their
 * containers as local processes, the way a kubelet would run them in
 * containers, then writes the pod phase and container statuses back through
 * the `pods/status` subresource.
 *
 * How a container becomes a process:
 * - argv is `command` + `args` (a missing `command` means the image
 *   entrypoint, taken to be `kcm`), with `$(VAR)` references expanded from
 *   the container's environment as Kubernetes does.
 * - If argv[0]'s basename is `kcm`, it runs `deno run --allow-all
 *   <repoRoot>/main.ts ...rest`, with a `--metrics-listen` address turned
 *   into `127.0.0.1:0` (there is no pod network: every pod would want the
 *   same port of this machine). If it is `sh`/`bash`/`dash`, the script runs
 *   with bash, with a `kcm` launcher first on `PATH`. Anything else runs as
 *   is from `PATH`.
 * - hostPath volumes: a mount of host path `/x` appears at
 *   `<nodeRoot>/x`, except `/proc` (the real one) and `/sys` (the node's
 *   sysfs fixture when given, else the real one). Every arg, env value,
 *   shell script and `workingDir` that names a mountPath (whole path or
 *   prefix, also in `--flag=<path>` form) is rewritten to that location.
 *   The working directory defaults to the node root.
 * - Environment: a clean one (PATH, HOME, DENO_DIR), `HOSTNAME`, the
 *   in-cluster settings for the pod's ServiceAccount with a token bound to
 *   the pod, as a kubelet mounts it (`ControlPlane.boundServiceAccount`: kcm
 *   talks to the API as that account, the RBAC under test applies, and the
 *   API server knows the pod's node from the token), then the container's
 *   `env` (literal values and `fieldRef`s to the pod's name, namespace,
 *   uid, node name, ServiceAccount name and IPs).
 * - stdout and stderr go to one log file per container; see `logs()`.
 *
 * Pods run as a kubelet runs them: init containers one by one, then the
 * containers side by side; `restartPolicy` decides restarts (Always, or
 * OnFailure after a failure, with a short back-off). A pod deleted through
 * the API has its processes killed and is then removed (grace period 0).
 *
 * Not done: no images, no isolation (no pod network, see above),
 * resources, probes or securityContext; init containers with `restartPolicy: Always`
 * (sidecars) run as plain init containers; only hostPath volumes are
 * mapped (others are left out). Pods reach this kubelet once bound to one
 * of its nodes: created with `spec.nodeName`, or placed by kube-scheduler
 * when the control plane runs with `controllers` (DaemonSet pods).
 */

import { basename, dirname, normalize } from "node:path";
import {
  type ControlPlane,
  detachedArgs,
  type ServiceAccountCredentials,
  tailFile,
} from "./testenv.ts";

/** Options of {@linkcode startTestKubelet}. */
export interface StartTestKubeletOptions {
  /** Names of the (fake) nodes whose pods this kubelet runs. */
  nodes: string[];
  /** The kcm checkout whose `main.ts` runs for `kcm` commands. */
  repoRoot: string;
  /** Root folder per node for hostPath volumes; default `<dir>/nodes/<node>`. */
  nodeRoots?: Record<string, string>;
  /** sysfs fixture per node, used for hostPath `/sys`; default the real `/sys`. */
  sysfs?: Record<string, string>;
  /** How often to list pods; default 200 ms. */
  pollIntervalMs?: number;
  /** The Deno executable for `kcm`; default the running one. */
  deno?: string;
  /** Keep the work folder (logs, default node roots) after `stop()`. */
  keepDir?: boolean;
}

/** Options of {@linkcode TestKubelet.waitForPod}. */
export interface WaitForPodOptions {
  /** Phases to wait for; default Succeeded and Failed. */
  phases?: string[];
  /** Default 120 s. */
  timeoutMs?: number;
}

/** A running test kubelet; stop it with `stop()` or `await using`. */
export interface TestKubelet extends AsyncDisposable {
  /** Work folder: logs, the `kcm` launcher, default node roots. */
  readonly dir: string;
  /** Problems the kubelet met (status writes, process starts), oldest first. */
  readonly errors: readonly string[];
  /** Root folder of `node`'s hostPath volumes. */
  nodeRoot(node: string): string;
  /** Log file of a container of the latest pod with that name. */
  logPath(namespace: string, pod: string, container: string): string;
  /** stdout + stderr of a container of the latest pod with that name. */
  logs(namespace: string, pod: string, container: string): Promise<string>;
  /**
   * The pid of a container's process while it runs (latest pod with that
   * name), else undefined. The process leads its own process group: what
   * it starts has it as parent and shares its group.
   */
  containerPid(
    namespace: string,
    pod: string,
    container: string,
  ): number | undefined;
  /**
   * Polls the API until the pod reaches one of `phases` and returns it;
   * throws with the pod's status and log tails on timeout.
   */
  waitForPod(
    namespace: string,
    name: string,
    options?: WaitForPodOptions,
    // deno-lint-ignore no-explicit-any
  ): Promise<any>;
  /** Stops polling and kills every container process. Safe to call twice. */
  stop(): Promise<void>;
}

// Minimal shapes of the Kubernetes objects read here.
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}
interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  workingDir?: string;
  volumeMounts?: { name: string; mountPath: string; subPath?: string }[];
}
interface Volume {
  name: string;
  hostPath?: { path: string; type?: string };
}
interface Pod {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    deletionTimestamp?: string;
  };
  spec: {
    nodeName?: string;
    restartPolicy?: "Always" | "OnFailure" | "Never";
    serviceAccountName?: string;
    automountServiceAccountToken?: boolean;
    hostNetwork?: boolean;
    initContainers?: Container[];
    containers: Container[];
    volumes?: Volume[];
  };
  status?: { phase?: string };
}

interface ContainerRecord {
  name: string;
  image: string;
  restartCount: number;
  state: Record<string, unknown>;
  lastState: Record<string, unknown>;
  ready: boolean;
  started: boolean;
}

interface PodRun {
  pod: Pod;
  node: string;
  logDir: string;
  phase: string;
  startTime: string;
  init: ContainerRecord[];
  main: ContainerRecord[];
  processes: Set<Deno.ChildProcess>;
  /** The pid of each running container's process, by container name. */
  pids: Map<string, number>;
  /** Set when the pod was deleted or the kubelet stops: start nothing more. */
  killed: boolean;
  finished: boolean;
  statusWrites: Promise<void>;
  done: Promise<void>;
  /** The pod's ServiceAccount credentials, token bound to the pod. */
  account?: ServiceAccountCredentials;
}

/** A container path and where it lives on the test host. */
export interface Mount {
  mountPath: string;
  target: string;
}

const SYSTEM_PATH =
  "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const SHELLS = new Set(["sh", "bash", "dash"]);
const KILL_GRACE_MS = 2000;

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, "Z");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Expands `$(NAME)` from `env` and reduces `$$` to `$`, as Kubernetes does. */
export function expandVariables(
  text: string,
  env: Readonly<Record<string, string>>,
): string {
  return text.replace(
    /\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g,
    (whole, name: string | undefined) => {
      if (name === undefined) return "$";
      return env[name] ?? whole;
    },
  );
}

/**
 * Rewrites every occurrence of a mountPath in `text` that stands as a path
 * (at the start or after a separator such as space, `=`, `:` or a quote, and
 * followed by the end, `/` or a separator) to its target.
 */
export function rewritePaths(text: string, mounts: readonly Mount[]): string {
  const usable = mounts.filter((m) => m.mountPath !== "/")
    .sort((a, b) => b.mountPath.length - a.mountPath.length);
  if (usable.length === 0) return text;
  const sep = `\\s='"<>:;|&(),`;
  const pattern = new RegExp(
    `(^|[${sep}])(${usable.map((m) => escapeRegExp(m.mountPath)).join("|")})` +
      `(?=$|[/${sep}])`,
    "g",
  );
  const targets = new Map(usable.map((m) => [m.mountPath, m.target]));
  return text.replace(
    pattern,
    (_whole, before: string, path: string) => before + targets.get(path),
  );
}

/** Live (not zombie) members of process group `pgid`, from /proc. */
async function liveGroupMembers(pgid: number): Promise<number[]> {
  const members: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
      const [state, , group] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(group) === pgid && state !== "Z") {
        members.push(Number(entry.name));
      }
    } catch {
      // exited meanwhile
    }
  }
  return members;
}

/**
 * Sends SIGTERM to the process group led by `child` (a container's shell and
 * whatever it started), then SIGKILL to what is left after a grace period.
 * Resolves once the group has no live member.
 */
async function killGroup(child: Deno.ChildProcess): Promise<void> {
  const signal = (sig: Deno.Signal) => {
    try {
      Deno.kill(-child.pid, sig);
    } catch {
      // group already gone
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + KILL_GRACE_MS;
  let exited = false;
  child.status.then(() => exited = true);
  while (Date.now() < deadline) {
    if (exited && (await liveGroupMembers(child.pid)).length === 0) return;
    await sleep(20);
  }
  signal("SIGKILL");
  await child.status;
  while ((await liveGroupMembers(child.pid)).length > 0) await sleep(20);
}

/** Where host path `hostPath` lives for a node. */
function hostTarget(
  hostPath: string,
  nodeRoot: string,
  sysfs: string | undefined,
): string {
  const path = normalize(hostPath).replace(/(.)\/$/, "$1");
  if (path === "/proc" || path.startsWith("/proc/")) return path;
  if (path === "/sys" || path.startsWith("/sys/")) {
    return (sysfs ?? "/sys") + path.slice("/sys".length);
  }
  return nodeRoot + (path === "/" ? "" : path);
}

/** The hostPath mounts of a container, creating what the host path type asks for. */
async function hostPathMounts(
  pod: Pod,
  container: Container,
  nodeRoot: string,
  sysfs: string | undefined,
): Promise<Mount[]> {
  const volumes = new Map((pod.spec.volumes ?? []).map((v) => [v.name, v]));
  const mounts: Mount[] = [];
  for (const mount of container.volumeMounts ?? []) {
    const hostPath = volumes.get(mount.name)?.hostPath;
    if (!hostPath) continue;
    const full = mount.subPath
      ? `${hostPath.path}/${mount.subPath}`
      : hostPath.path;
    const target = hostTarget(full, nodeRoot, sysfs);
    if (target.startsWith(nodeRoot)) {
      const type = hostPath.type ?? "";
      if (type === "FileOrCreate" || type === "File") {
        await Deno.mkdir(dirname(target), { recursive: true });
        await Deno.writeFile(target, new Uint8Array(), { append: true });
      } else if (
        type !== "Socket" && type !== "CharDevice" && type !== "BlockDevice"
      ) {
        await Deno.mkdir(target, { recursive: true });
      }
    }
    mounts.push({ mountPath: normalize(mount.mountPath), target });
  }
  return mounts;
}

function fieldValue(pod: Pod, fieldPath: string): string {
  switch (fieldPath) {
    case "metadata.name":
      return pod.metadata.name;
    case "metadata.namespace":
      return pod.metadata.namespace;
    case "metadata.uid":
      return pod.metadata.uid;
    case "spec.nodeName":
      return pod.spec.nodeName ?? "";
    case "spec.serviceAccountName":
      return pod.spec.serviceAccountName ?? "default";
    case "status.hostIP":
    case "status.podIP":
      return "127.0.0.1";
    default:
      throw new Error(`unsupported fieldRef "${fieldPath}"`);
  }
}

/**
 * Starts a test kubelet for `options.nodes` of control plane `cp`. It keeps
 * polling until `stop()`.
 */
export async function startTestKubelet(
  cp: ControlPlane,
  options: StartTestKubeletOptions,
): Promise<TestKubelet> {
  const dir = await Deno.makeTempDir({ prefix: "kcm-kubelet-" });
  const deno = options.deno ?? Deno.execPath();
  const repoRoot = options.repoRoot.replace(/\/$/, "");
  const binDir = `${dir}/bin`;
  await Deno.mkdir(binDir, { recursive: true });
  await Deno.writeTextFile(
    `${binDir}/kcm`,
    `#!/bin/sh\n# kcm from the checkout under test\nexec ${
      shellQuote(deno)
    } run --allow-all --config ${shellQuote(`${repoRoot}/deno.json`)} ${
      shellQuote(`${repoRoot}/main.ts`)
    } "$@"\n`,
    { mode: 0o755 },
  );
  const nodeRoots = new Map<string, string>();
  for (const node of options.nodes) {
    const root = options.nodeRoots?.[node] ?? `${dir}/nodes/${node}`;
    await Deno.mkdir(root, { recursive: true });
    nodeRoots.set(node, root);
  }

  const errors: string[] = [];
  const runs = new Map<string, PodRun>(); // by uid
  const latest = new Map<string, PodRun>(); // by namespace/name
  let stopping = false;
  let wake: (() => void) | undefined;

  const writeStatus = (run: PodRun): Promise<void> => {
    run.statusWrites = run.statusWrites.then(async () => {
      if (stopping) return;
      const conditionStatus = run.phase === "Running" ? "True" : "False";
      const initialized = run.init.every((c) =>
        "terminated" in c.state &&
        (c.state.terminated as { exitCode: number }).exitCode === 0
      );
      const time = now();
      const status = {
        phase: run.phase,
        hostIP: "127.0.0.1",
        hostIPs: [{ ip: "127.0.0.1" }],
        podIP: "127.0.0.1",
        podIPs: [{ ip: "127.0.0.1" }],
        startTime: run.startTime,
        conditions: [
          {
            type: "Initialized",
            status: initialized ? "True" : "False",
            lastTransitionTime: time,
          },
          {
            type: "ContainersReady",
            status: conditionStatus,
            lastTransitionTime: time,
          },
          { type: "Ready", status: conditionStatus, lastTransitionTime: time },
        ],
        initContainerStatuses: run.init.map(containerStatus(run)),
        containerStatuses: run.main.map(containerStatus(run)),
      };
      const { namespace, name, uid } = run.pod.metadata;
      const response = await cp.api(
        "PATCH",
        `/api/v1/namespaces/${namespace}/pods/${name}/status`,
        { metadata: { uid }, status },
        { contentType: "application/merge-patch+json" },
      ).catch((error) => ({ status: 0, body: String(error) }));
      // 404: the pod is gone; 409: a new pod took the name (uid differs).
      if (![200, 404, 409].includes(response.status)) {
        errors.push(
          `status of pod ${namespace}/${name}: HTTP ${response.status} ${
            JSON.stringify(response.body)
          }`,
        );
      }
    });
    return run.statusWrites;
  };

  const containerStatus = (run: PodRun) => (c: ContainerRecord) => ({
    name: c.name,
    image: c.image,
    imageID: "",
    containerID:
      `kcm-test://${run.pod.metadata.uid}-${c.name}-${c.restartCount}`,
    ready: c.ready,
    started: c.started,
    restartCount: c.restartCount,
    state: c.state,
    lastState: c.lastState,
  });

  /** Runs one container once; resolves to its exit code. */
  const runContainer = async (
    run: PodRun,
    container: Container,
    record: ContainerRecord,
  ): Promise<number> => {
    const pod = run.pod;
    const nodeRoot = nodeRoots.get(run.node)!;
    const log = `${run.logDir}/${container.name}.log`;
    const startedAt = now();
    let child: Deno.ChildProcess;
    try {
      const mounts = await hostPathMounts(
        pod,
        container,
        nodeRoot,
        options.sysfs?.[run.node],
      );
      const env: Record<string, string> = {
        PATH: `${binDir}:${SYSTEM_PATH}`,
        HOSTNAME: pod.spec.hostNetwork ? run.node : pod.metadata.name,
        DENO_NO_UPDATE_CHECK: "1",
        NO_COLOR: "1",
        KUBERNETES_SERVICE_HOST: cp.host,
        KUBERNETES_SERVICE_PORT: String(cp.port),
      };
      for (const name of ["HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"]) {
        const value = Deno.env.get(name);
        if (value !== undefined) env[name] = value;
      }
      if (pod.spec.automountServiceAccountToken !== false) {
        run.account ??= await cp.boundServiceAccount(
          pod.metadata.namespace,
          pod.spec.serviceAccountName ?? "default",
          { kind: "Pod", name: pod.metadata.name, uid: pod.metadata.uid },
        );
        Object.assign(env, run.account.inClusterEnv);
      }
      for (const variable of container.env ?? []) {
        const fieldPath = variable.valueFrom?.fieldRef?.fieldPath;
        if (variable.valueFrom && !fieldPath) {
          throw new Error(`env ${variable.name}: only fieldRef is supported`);
        }
        env[variable.name] = fieldPath
          ? fieldValue(pod, fieldPath)
          : rewritePaths(expandVariables(variable.value ?? "", env), mounts);
      }
      let argv = [...(container.command ?? ["kcm"]), ...(container.args ?? [])]
        .map((arg) => rewritePaths(expandVariables(arg, env), mounts));
      const program = basename(argv[0] ?? "kcm");
      if (program === "kcm") {
        argv = [
          deno,
          "run",
          "--allow-all",
          "--config",
          `${repoRoot}/deno.json`,
          `${repoRoot}/main.ts`,
          // Pods share this machine's network: a metrics port becomes a
          // free one on loopback.
          ...argv.slice(1).map((arg) =>
            arg.startsWith("--metrics-listen=")
              ? "--metrics-listen=127.0.0.1:0"
              : arg
          ),
        ];
      } else if (SHELLS.has(program)) {
        argv = ["bash", ...argv.slice(1)];
      }
      const cwd = container.workingDir
        ? rewritePaths(container.workingDir, mounts)
        : nodeRoot;
      await Deno.mkdir(cwd, { recursive: true });
      await Deno.writeTextFile(
        log,
        `# kcm-test-kubelet: ${startedAt} ${JSON.stringify(argv)}\n`,
        { append: true },
      );
      // setsid: own process group, killed as a whole; pdeathsig: nothing
      // outlives a crashed test run.
      child = new Deno.Command("setsid", {
        args: detachedArgs(log, argv),
        cwd,
        env,
        clearEnv: true,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      errors.push(
        `pod ${pod.metadata.namespace}/${pod.metadata.name} container ${container.name}: ${message}`,
      );
      record.state = {
        terminated: {
          exitCode: 128,
          reason: "ContainerCannotRun",
          message,
          startedAt,
          finishedAt: now(),
        },
      };
      await writeStatus(run);
      return 128;
    }
    run.processes.add(child);
    // setsid, setpriv and bash exec in turn: this pid is the container's.
    run.pids.set(container.name, child.pid);
    record.state = { running: { startedAt } };
    record.started = true;
    record.ready = true;
    if (run.phase === "Pending" && !run.init.includes(record)) {
      run.phase = "Running";
    }
    void writeStatus(run);
    const status = await child.status;
    run.processes.delete(child);
    run.pids.delete(container.name);
    record.started = false;
    record.ready = false;
    record.state = {
      terminated: {
        exitCode: status.code,
        reason: status.code === 0 ? "Completed" : "Error",
        startedAt,
        finishedAt: now(),
        containerID:
          `kcm-test://${pod.metadata.uid}-${container.name}-${record.restartCount}`,
      },
    };
    return status.code;
  };

  /** Runs a container until restartPolicy lets it rest; resolves to the last exit code. */
  const runWithRestarts = async (
    run: PodRun,
    container: Container,
    record: ContainerRecord,
    policy: string,
  ): Promise<number> => {
    let backoff = 500;
    while (true) {
      const code = await runContainer(run, container, record);
      if (run.killed) return code;
      const again = policy === "Always" ||
        (policy === "OnFailure" && code !== 0);
      if (!again) return code;
      record.lastState = record.state;
      record.state = { waiting: { reason: "CrashLoopBackOff" } };
      record.restartCount += 1;
      await writeStatus(run);
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 5000);
      if (run.killed) return code;
    }
  };

  const runPod = async (run: PodRun): Promise<void> => {
    const spec = run.pod.spec;
    const policy = spec.restartPolicy ?? "Always";
    await Deno.mkdir(run.logDir, { recursive: true });
    await writeStatus(run);
    for (const [i, container] of (spec.initContainers ?? []).entries()) {
      const record = run.init[i]!;
      // Init containers are retried unless the pod never restarts.
      const code = await runWithRestarts(
        run,
        container,
        record,
        policy === "Never" ? "Never" : "OnFailure",
      );
      if (run.killed) return;
      if (code !== 0) {
        run.phase = "Failed";
        for (const c of run.main) {
          c.state = { waiting: { reason: "PodInitializing" } };
        }
        await writeStatus(run);
        return;
      }
      await writeStatus(run);
    }
    for (const c of run.main) {
      c.state = { waiting: { reason: "ContainerCreating" } };
    }
    const codes = await Promise.all(
      spec.containers.map((container, i) =>
        runWithRestarts(run, container, run.main[i]!, policy)
      ),
    );
    if (run.killed) return;
    run.phase = codes.every((code) => code === 0) ? "Succeeded" : "Failed";
    await writeStatus(run);
  };

  const killRun = async (run: PodRun): Promise<void> => {
    run.killed = true;
    await Promise.all([...run.processes].map(killGroup));
  };

  const startRun = (pod: Pod, node: string): void => {
    const record = (c: Container, reason: string): ContainerRecord => ({
      name: c.name,
      image: c.image ?? "kcm",
      restartCount: 0,
      state: { waiting: { reason } },
      lastState: {},
      ready: false,
      started: false,
    });
    const { namespace, name, uid } = pod.metadata;
    const run: PodRun = {
      pod,
      node,
      logDir: `${dir}/pods/${namespace}_${name}_${uid}`,
      phase: "Pending",
      startTime: now(),
      init: (pod.spec.initContainers ?? []).map((c) =>
        record(c, "PodInitializing")
      ),
      main: pod.spec.containers.map((c) =>
        record(
          c,
          pod.spec.initContainers?.length
            ? "PodInitializing"
            : "ContainerCreating",
        )
      ),
      processes: new Set(),
      pids: new Map(),
      killed: false,
      finished: false,
      statusWrites: Promise.resolve(),
      done: Promise.resolve(),
    };
    runs.set(uid, run);
    latest.set(`${namespace}/${name}`, run);
    run.done = runPod(run)
      .catch((error) => {
        errors.push(`pod ${namespace}/${name}: ${error?.stack ?? error}`);
      })
      .finally(() => {
        run.finished = true;
      });
  };

  /** Kills what runs for a deleted pod, then lets the API server remove it. */
  const finalizeDeletion = async (pod: Pod): Promise<void> => {
    const run = runs.get(pod.metadata.uid);
    if (run) {
      await killRun(run);
      await run.done;
    }
    const { namespace, name, uid } = pod.metadata;
    const response = await cp.api(
      "DELETE",
      `/api/v1/namespaces/${namespace}/pods/${name}`,
      {
        apiVersion: "v1",
        kind: "DeleteOptions",
        gracePeriodSeconds: 0,
        preconditions: { uid },
      },
    );
    if (![200, 404, 409].includes(response.status)) {
      errors.push(
        `delete of pod ${namespace}/${name}: HTTP ${response.status} ${
          JSON.stringify(response.body)
        }`,
      );
    }
  };

  const deleting = new Set<string>();
  const pollOnce = async (): Promise<void> => {
    const present = new Set<string>();
    for (const node of options.nodes) {
      const selector = encodeURIComponent(`spec.nodeName=${node}`);
      const { status, body } = await cp.api(
        "GET",
        `/api/v1/pods?fieldSelector=${selector}`,
      );
      if (status !== 200) {
        throw new Error(
          `list pods on ${node}: HTTP ${status} ${JSON.stringify(body)}`,
        );
      }
      for (const pod of (body.items ?? []) as Pod[]) {
        const uid = pod.metadata.uid;
        present.add(uid);
        if (stopping) return;
        if (pod.metadata.deletionTimestamp) {
          if (!deleting.has(uid)) {
            deleting.add(uid);
            finalizeDeletion(pod).catch((error) => errors.push(String(error)))
              .finally(() => deleting.delete(uid));
          }
          continue;
        }
        if (runs.has(uid)) continue;
        const phase = pod.status?.phase;
        if (phase === "Succeeded" || phase === "Failed") continue;
        startRun(pod, node);
      }
    }
    // Pods removed outright (force delete) lose their processes too.
    for (const run of runs.values()) {
      if (!run.finished && !run.killed && !present.has(run.pod.metadata.uid)) {
        void killRun(run);
      }
    }
  };

  const pollMs = options.pollIntervalMs ?? 200;
  const loop = (async () => {
    while (!stopping) {
      await pollOnce().catch((error) => {
        if (!stopping) errors.push(`poll: ${error?.message ?? error}`);
      });
      if (stopping) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  })();

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      stopping = true;
      wake?.();
      await loop;
      await Promise.all([...runs.values()].map(killRun));
      await Promise.all([...runs.values()].map((run) => run.done));
      await Promise.all([...runs.values()].map((run) => run.statusWrites));
      if (!options.keepDir) {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    })();
    return stopped;
  };

  const logPath = (
    namespace: string,
    pod: string,
    container: string,
  ): string => {
    const run = latest.get(`${namespace}/${pod}`);
    if (!run) {
      throw new Error(
        `The test kubelet has not run pod ${namespace}/${pod} (known: ${
          [...latest.keys()].join(", ") || "none"
        })`,
      );
    }
    return `${run.logDir}/${container}.log`;
  };

  return {
    dir,
    errors,
    nodeRoot(node) {
      const root = nodeRoots.get(node);
      if (root === undefined) {
        throw new Error(`Node "${node}" is not served by this test kubelet`);
      }
      return root;
    },
    logPath,
    containerPid(namespace, pod, container) {
      return latest.get(`${namespace}/${pod}`)?.pids.get(container);
    },
    async logs(namespace, pod, container) {
      const path = logPath(namespace, pod, container);
      try {
        return await Deno.readTextFile(path);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return "";
        throw error;
      }
    },
    async waitForPod(namespace, name, waitOptions = {}) {
      const phases = waitOptions.phases ?? ["Succeeded", "Failed"];
      const timeoutMs = waitOptions.timeoutMs ?? 120_000;
      const deadline = Date.now() + timeoutMs;
      // deno-lint-ignore no-explicit-any
      let pod: any;
      while (true) {
        const response = await cp.api(
          "GET",
          `/api/v1/namespaces/${namespace}/pods/${name}`,
        );
        pod = response.body;
        if (response.status === 200 && phases.includes(pod?.status?.phase)) {
          return pod;
        }
        if (Date.now() > deadline) break;
        await sleep(100);
      }
      const run = latest.get(`${namespace}/${name}`);
      const tails = run
        ? await Promise.all(
          [...run.init, ...run.main].map(async (c) =>
            `--- ${c.name}:\n${await tailFile(
              `${run.logDir}/${c.name}.log`,
              20,
            )}`
          ),
        )
        : ["(the test kubelet never ran it)"];
      throw new Error(
        `Pod ${namespace}/${name} not in phase ${
          phases.join("/")
        } after ${timeoutMs} ms; ` +
          `status: ${JSON.stringify(pod?.status ?? pod)}\nkubelet errors: ${
            errors.join("; ") || "none"
          }\n${tails.join("\n")}`,
      );
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
