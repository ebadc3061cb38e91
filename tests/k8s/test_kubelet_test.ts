/**
 * Tests of the test kubelet against the real test control plane: pods bound
 * to a fake node run kcm from this checkout and shell commands, their
 * hostPath volumes land in the node's root, and the outcome is written back
 * through the pod status subresource.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { type ControlPlane, createNode, startControlPlane } from "./testenv.ts";
import { rewritePaths, startTestKubelet } from "./test_kubelet.ts";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

function pod(
  name: string,
  containers: Record<string, unknown>[],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name },
    spec: {
      nodeName: "node-1",
      restartPolicy: "Never",
      containers: containers.map((c) => ({ image: "kcm:test", ...c })),
      ...extra,
    },
  };
}

const confVolume = {
  volumes: [{
    name: "conf",
    hostPath: { path: "/etc/kcm", type: "DirectoryOrCreate" },
  }],
};
const confMount = { volumeMounts: [{ name: "conf", mountPath: "/etc/kcm" }] };

async function createPod(
  cp: ControlPlane,
  namespace: string,
  object: Record<string, unknown>,
): Promise<void> {
  const { status, body } = await cp.api(
    "POST",
    `/api/v1/namespaces/${namespace}/pods`,
    object,
  );
  assert.equal(status, 201, JSON.stringify(body));
}

Deno.test("rewritePaths() maps mount paths in args, flags and scripts only at path boundaries", () => {
  const mounts = [
    { mountPath: "/etc/kcm", target: "/n/etc/kcm" },
    { mountPath: "/host/proc", target: "/proc" },
  ];
  const cases: [string, string][] = [
    ["/etc/kcm", "/n/etc/kcm"],
    ["/etc/kcm/pools/x", "/n/etc/kcm/pools/x"],
    ["--conf-dir=/etc/kcm", "--conf-dir=/n/etc/kcm"],
    [
      "echo hi > /etc/kcm/x && cat '/etc/kcm/x'",
      "echo hi > /n/etc/kcm/x && cat '/n/etc/kcm/x'",
    ],
    ["/host/proc", "/proc"],
    ["/etc/kcmx", "/etc/kcmx"],
    ["/opt/etc/kcm", "/opt/etc/kcm"],
    ["etc/kcm", "etc/kcm"],
  ];
  for (const [input, expected] of cases) {
    assert.equal(rewritePaths(input, mounts), expected, input);
  }
});

Deno.test(
  "startTestKubelet() runs pods bound to fake nodes and reports their status",
  { sanitizeResources: false, sanitizeOps: false },
  async (t) => {
    await using cp = await startControlPlane();
    await createNode(cp, "node-1");
    await using kubelet = await startTestKubelet(cp, {
      nodes: ["node-1"],
      repoRoot,
    });
    const root = kubelet.nodeRoot("node-1");

    await t.step(
      "kcm --version succeeds with exit code 0 and its output in the log",
      async () => {
        await createPod(
          cp,
          "default",
          pod("version", [{
            name: "kcm",
            command: ["/opt/bin/kcm", "--version"],
          }]),
        );
        const done = await kubelet.waitForPod("default", "version");
        assert.equal(done.status.phase, "Succeeded");
        const [status] = done.status.containerStatuses;
        assert.equal(status.name, "kcm");
        assert.equal(status.state.terminated.exitCode, 0);
        assert.equal(status.state.terminated.reason, "Completed");
        assert.match(
          await kubelet.logs("default", "version", "kcm"),
          /^KCM \d+\.\d+\.\d+$/m,
        );
      },
    );

    await t.step(
      "a failing kcm command goes Failed with its exit code",
      async () => {
        await createPod(
          cp,
          "default",
          pod("describe", [{
            name: "kcm",
            command: ["kcm", "describe", "--conf-dir=/etc/kcm"],
            ...confMount,
          }], confVolume),
        );
        const done = await kubelet.waitForPod("default", "describe");
        assert.equal(done.status.phase, "Failed");
        const [status] = done.status.containerStatuses;
        assert.equal(status.state.terminated.exitCode, 1);
        assert.equal(status.state.terminated.reason, "Error");
        const log = await kubelet.logs("default", "describe", "kcm");
        // The error names the rewritten host-side path, not /etc/kcm.
        assert.ok(log.includes(`${root}/etc/kcm`), log);
      },
    );

    await t.step(
      "a shell command writes through a hostPath volume into the node root",
      async () => {
        await createPod(
          cp,
          "default",
          pod("shell", [{
            name: "sh",
            command: [
              "/bin/sh",
              "-c",
              "echo hi from $(NODE) > /etc/kcm/x && kcm --version",
            ],
            env: [{
              name: "NODE",
              valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } },
            }],
            ...confMount,
          }], confVolume),
        );
        const done = await kubelet.waitForPod("default", "shell");
        assert.equal(
          done.status.phase,
          "Succeeded",
          await kubelet.logs("default", "shell", "sh"),
        );
        assert.equal(
          await Deno.readTextFile(`${root}/etc/kcm/x`),
          "hi from node-1\n",
        );
        assert.match(await kubelet.logs("default", "shell", "sh"), /KCM \d/);
      },
    );

    await t.step(
      "init containers run first, in order; a failing one fails the pod",
      async () => {
        await createPod(
          cp,
          "default",
          pod("init-order", [{
            name: "main",
            command: ["sh", "-c", "cat /etc/kcm/order"],
            ...confMount,
          }], {
            ...confVolume,
            initContainers: ["a", "b"].map((n) => ({
              name: n,
              image: "kcm:test",
              command: ["sh", "-c", `echo ${n} >> /etc/kcm/order`],
              ...confMount,
            })),
          }),
        );
        const done = await kubelet.waitForPod("default", "init-order");
        assert.equal(done.status.phase, "Succeeded");
        assert.deepEqual(
          done.status.initContainerStatuses.map((
            s: { state: { terminated: { exitCode: number } } },
          ) => s.state.terminated.exitCode),
          [0, 0],
        );
        assert.equal(
          await kubelet.logs("default", "init-order", "main").then((l) =>
            l.split("\n").slice(1).join("\n")
          ),
          "a\nb\n",
        );

        await createPod(
          cp,
          "default",
          pod("init-fails", [{
            name: "main",
            command: ["sh", "-c", "touch /etc/kcm/ran"],
            ...confMount,
          }], {
            ...confVolume,
            initContainers: [{
              name: "bad",
              image: "kcm:test",
              command: ["sh", "-c", "exit 3"],
            }],
          }),
        );
        const failed = await kubelet.waitForPod("default", "init-fails");
        assert.equal(failed.status.phase, "Failed");
        assert.equal(
          failed.status.initContainerStatuses[0].state.terminated.exitCode,
          3,
        );
        await assert.rejects(
          Deno.stat(`${root}/etc/kcm/ran`),
          Deno.errors.NotFound,
        );
      },
    );

    await t.step(
      "kcm in a pod talks to the API as the pod's ServiceAccount",
      async () => {
        await cp.serviceAccount("default", "kcm-probe");
        await createPod(
          cp,
          "default",
          pod("whoami", [{
            name: "curl",
            command: [
              "sh",
              "-c",
              'curl -s --cacert "$KCM_SERVICE_ACCOUNT_DIR/ca.crt" ' +
              '-H "Authorization: Bearer $(cat "$KCM_SERVICE_ACCOUNT_DIR/token")" ' +
              '"https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/api/v1/namespaces/default/pods"',
            ],
          }], { serviceAccountName: "kcm-probe" }),
        );
        const done = await kubelet.waitForPod("default", "whoami");
        assert.equal(done.status.phase, "Succeeded");
        const log = await kubelet.logs("default", "whoami", "curl");
        assert.match(
          log,
          /system:serviceaccount:default:kcm-probe.*cannot list resource \\"pods\\"/,
          log,
        );
      },
    );

    await t.step(
      "a long-running pod stays Running until deleted, then is killed and removed",
      async () => {
        await createPod(
          cp,
          "default",
          pod("sleeper", [{ name: "sleep", command: ["sleep", "300"] }], {
            restartPolicy: "Always",
          }),
        );
        const running = await kubelet.waitForPod("default", "sleeper", {
          phases: ["Running"],
        });
        assert.ok(running.status.containerStatuses[0].state.running.startedAt);
        const pid = await waitForArgv(
          () => kubelet.containerPid("default", "sleeper", "sleep"),
          ["sleep", "300"],
        );
        const deleted = await cp.api(
          "DELETE",
          "/api/v1/namespaces/default/pods/sleeper",
        );
        assert.equal(deleted.status, 200);
        const deadline = Date.now() + 20_000;
        while (
          (await cp.api("GET", "/api/v1/namespaces/default/pods/sleeper"))
            .status !== 404
        ) {
          assert.ok(Date.now() < deadline, "pod sleeper was not removed");
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        assert.equal(
          await isAlive(pid),
          false,
          `sleep (pid ${pid}) still alive`,
        );
      },
    );

    await t.step("pods on other nodes are left alone", async () => {
      await createNode(cp, "node-2");
      await createPod(cp, "default", {
        ...pod("elsewhere", [{ name: "kcm", command: ["kcm", "--version"] }]),
        spec: {
          nodeName: "node-2",
          restartPolicy: "Never",
          containers: [{
            name: "kcm",
            image: "kcm:test",
            command: ["kcm", "--version"],
          }],
        },
      });
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const { body } = await cp.api(
        "GET",
        "/api/v1/namespaces/default/pods/elsewhere",
      );
      assert.equal(body.status.phase, "Pending");
      assert.throws(
        () => kubelet.logPath("default", "elsewhere", "kcm"),
        /has not run pod/,
      );
    });

    assert.deepEqual(kubelet.errors, []);
  },
);

/**
 * Whether process `pid` still runs (a zombie does not count: orphans of a
 * killed shell are reaped by whatever init the machine has, maybe never).
 */
async function isAlive(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** The argv of process `pid`, or undefined when it is gone. */
async function argvOf(pid: number): Promise<string[] | undefined> {
  try {
    const text = await Deno.readTextFile(`/proc/${pid}/cmdline`);
    return text.split("\0").slice(0, -1);
  } catch {
    return undefined;
  }
}

/** The parent pid of process `pid`, or undefined when it is gone. */
async function parentOf(pid: number): Promise<number | undefined> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

/**
 * Waits until a process the harness names runs `argv`: `pid()` itself
 * (the container's process, once its launcher has exec'd it), or with
 * `child`, a child of that process. Returns its pid. Nothing is looked up
 * by name: the pid comes from the test kubelet, a child by its parent pid.
 */
async function waitForArgv(
  pid: () => number | undefined,
  argv: readonly string[],
  { child = false } = {},
): Promise<number> {
  const same = (seen: string[] | undefined) =>
    seen !== undefined && seen.join("\0") === argv.join("\0");
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const leader = pid();
    if (leader !== undefined && !child && same(await argvOf(leader))) {
      return leader;
    }
    if (leader !== undefined && child) {
      for await (const entry of Deno.readDir("/proc")) {
        if (!/^\d+$/.test(entry.name)) continue;
        const candidate = Number(entry.name);
        if (
          await parentOf(candidate) === leader &&
          same(await argvOf(candidate))
        ) return candidate;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(
    `the container's ${child ? "child " : ""}process never ran ${
      argv.join(" ")
    } (container pid ${pid()})`,
  );
}

Deno.test(
  "TestKubelet.stop() kills running containers",
  { sanitizeResources: false, sanitizeOps: false },
  async () => {
    await using cp = await startControlPlane();
    await createNode(cp, "node-1");
    const kubelet = await startTestKubelet(cp, { nodes: ["node-1"], repoRoot });
    await createPod(
      cp,
      "default",
      pod("forever", [{
        name: "sleep",
        command: ["sh", "-c", "sleep 271; echo never"],
      }]),
    );
    await kubelet.waitForPod("default", "forever", { phases: ["Running"] });
    // The container runs bash (for sh), which starts sleep as its child.
    const pid = await waitForArgv(
      () => kubelet.containerPid("default", "forever", "sleep"),
      ["sleep", "271"],
      { child: true },
    );
    await kubelet.stop();
    assert.equal(
      await isAlive(pid),
      false,
      `sleep (pid ${pid}) survived stop()`,
    );
    await assert.rejects(Deno.stat(kubelet.dir), Deno.errors.NotFound);
  },
);
