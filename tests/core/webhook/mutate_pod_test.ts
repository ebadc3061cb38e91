/**
 * Every mutation rule of the webhook, through `reviewAdmission()`: the
 * answer is checked for shape, its patch applied with a strict RFC 6902
 * applier, and the resulting pod compared.
 */

import assert from "node:assert/strict";
import {
  cores,
  denial,
  type Json,
  kcmIsolate,
  mutate,
  pod,
} from "../../_helpers/admission.ts";
import { readManifest } from "../../_helpers/k8s_manifests.ts";

const VOLUMES = [
  { name: "kcm-conf-dir", hostPath: { path: "/etc/kcm", type: "Directory" } },
  {
    name: "kcm-install-dir",
    hostPath: { path: "/opt/bin", type: "Directory" },
  },
  { name: "kcm-host-proc", hostPath: { path: "/proc", type: "Directory" } },
];
const MOUNTS = [
  { name: "kcm-conf-dir", mountPath: "/etc/kcm" },
  { name: "kcm-install-dir", mountPath: "/opt/bin", readOnly: true },
  { name: "kcm-host-proc", mountPath: "/host/proc", readOnly: true },
];
const TOLERATION = {
  key: "kcm",
  value: "true",
  effect: "NoSchedule",
  operator: "Equal",
};

function env(n?: number): Json[] {
  const list = [{ name: "KCM_PROC_FS", value: "/host/proc" }];
  if (n !== undefined) list.push({ name: "KCM_NUM_CORES", value: String(n) });
  return list;
}

// Positive cases first.

Deno.test("reviewAdmission() wires a pod asking for one core, whole pod compared", () => {
  const { answer, after } = mutate(pod([{
    name: "fwd",
    image: "fwd:1",
    command: ["/usr/bin/forwarder"],
    args: ["--config=/etc/fwd.conf"],
    resources: cores(1),
  }]));
  assert.equal(answer.status, 200);
  assert.deepEqual(after, {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: "p",
      namespace: "default",
      annotations: { "kcm.intel.com/injected": "true" },
    },
    spec: {
      containers: [{
        name: "fwd",
        image: "fwd:1",
        command: [
          ...kcmIsolate(),
          "/usr/bin/forwarder",
          "--",
          "--config=/etc/fwd.conf",
        ],
        resources: cores(1),
        env: env(1),
        volumeMounts: MOUNTS,
      }],
      volumes: VOLUMES,
      tolerations: [TOLERATION],
      nodeSelector: { "kcm.intel.com/kcm-node": "true" },
    },
  });
});

Deno.test("reviewAdmission() wraps each container asking for cores with its own count", () => {
  const { after } = mutate(pod([
    { name: "a", command: ["/a"], resources: cores(2) },
    { name: "b", command: ["/b", "x"], args: ["y"], resources: cores(1) },
  ]));
  const [a, b] = after.spec.containers;
  assert.deepEqual(a.command, [...kcmIsolate(), "/a", "--"]);
  assert.deepEqual(a.env, env(2));
  assert.deepEqual(b.command, [...kcmIsolate(), "/b", "--", "x", "y"]);
  assert.equal(b.args, undefined);
  assert.deepEqual(b.env, env(1));
  assert.deepEqual(a.volumeMounts, MOUNTS);
  assert.deepEqual(b.volumeMounts, MOUNTS);
  assert.deepEqual(after.spec.volumes, VOLUMES);
});

Deno.test("reviewAdmission() puts a program named like an option after --", () => {
  const { after } = mutate(pod([
    { name: "a", command: ["-odd", "1"], args: ["2"], resources: cores(1) },
    { name: "b", command: ["-"], resources: cores(1) },
  ]));
  assert.deepEqual(after.spec.containers[0].command, [
    ...kcmIsolate(),
    "--",
    "-odd",
    "--",
    "1",
    "2",
  ]);
  assert.deepEqual(after.spec.containers[1].command, [
    ...kcmIsolate(),
    "-",
    "--",
  ]);
});

Deno.test("reviewAdmission() reads the count from limits alone and from any quantity spelling", () => {
  const cases: [Json, string][] = [
    [{ limits: { "kcm.intel.com/dataplane-cores": "3" } }, "3"],
    [cores("2000m"), "2"],
    [cores("+1"), "1"],
    [
      {
        requests: { "kcm.intel.com/dataplane-cores": "2" },
        limits: { "kcm.intel.com/dataplane-cores": "2000m" },
      },
      "2",
    ],
    [{ limits: { "kcm.intel.com/dataplane-cores": 4 } }, "4"],
  ];
  for (const [resources, expected] of cases) {
    const { after } = mutate(
      pod([{ name: "c", command: ["/c"], resources }]),
    );
    const numCores = after.spec.containers[0].env.find((e: Json) =>
      e.name === "KCM_NUM_CORES"
    );
    assert.equal(numCores.value, expected, JSON.stringify(resources));
  }
});

Deno.test("reviewAdmission() replaces KCM_NUM_CORES and KCM_PROC_FS and keeps other env", () => {
  const { ops, after } = mutate(pod([{
    name: "c",
    command: ["/c"],
    resources: cores(2),
    env: [
      { name: "KCM_LOG_LEVEL", value: "DEBUG" },
      { name: "KCM_NUM_CORES", value: "9" },
      { name: "KCM_PROC_FS", valueFrom: { fieldRef: { fieldPath: "x" } } },
      { name: "KCM_NUM_CORES", value: "7" },
      { name: "OTHER", value: "1" },
    ],
  }]));
  assert.deepEqual(after.spec.containers[0].env, [
    { name: "KCM_LOG_LEVEL", value: "DEBUG" },
    { name: "KCM_NUM_CORES", value: "2" },
    { name: "KCM_PROC_FS", value: "/host/proc" },
    { name: "KCM_NUM_CORES", value: "2" },
    { name: "OTHER", value: "1" },
  ]);
  assert.ok(
    ops.every((o) => !o.path.includes("/env") || o.op === "replace"),
    JSON.stringify(ops),
  );
});

Deno.test("reviewAdmission() never reuses a volume name of the user's", () => {
  const userVolumes = [
    { name: "kcm-conf-dir", emptyDir: {} },
    { name: "kcm-conf-dir-1", configMap: { name: "x" } },
    { name: "kcm-host-proc", hostPath: { path: "/var/run" } },
  ];
  const { after } = mutate(pod([{
    name: "c",
    command: ["/c"],
    resources: cores(1),
    volumeMounts: [{ name: "kcm-conf-dir", mountPath: "/data" }],
  }], { spec: { volumes: userVolumes } }));
  const volumes: Json[] = after.spec.volumes;
  assert.deepEqual(volumes.slice(0, 3), userVolumes);
  assert.deepEqual(volumes.slice(3), [
    {
      name: "kcm-conf-dir-2",
      hostPath: { path: "/etc/kcm", type: "Directory" },
    },
    {
      name: "kcm-install-dir",
      hostPath: { path: "/opt/bin", type: "Directory" },
    },
    {
      name: "kcm-host-proc-1",
      hostPath: { path: "/proc", type: "Directory" },
    },
  ]);
  const names = volumes.map((v) => v.name);
  assert.equal(new Set(names).size, names.length);
  assert.deepEqual(after.spec.containers[0].volumeMounts, [
    { name: "kcm-conf-dir", mountPath: "/data" },
    { name: "kcm-conf-dir-2", mountPath: "/etc/kcm" },
    { name: "kcm-install-dir", mountPath: "/opt/bin", readOnly: true },
    { name: "kcm-host-proc-1", mountPath: "/host/proc", readOnly: true },
  ]);
});

Deno.test("reviewAdmission() reuses a volume of the same host path and skips taken mount paths", () => {
  const { after } = mutate(pod([{
    name: "c",
    command: ["/c"],
    resources: cores(1),
    volumeMounts: [{ name: "proc", mountPath: "/host/proc/" }],
  }], {
    spec: {
      volumes: [
        { name: "cfg", hostPath: { path: "/etc/kcm/" } },
        { name: "proc", hostPath: { path: "/proc" } },
      ],
    },
  }));
  assert.deepEqual(after.spec.volumes, [
    { name: "cfg", hostPath: { path: "/etc/kcm/" } },
    { name: "proc", hostPath: { path: "/proc" } },
    VOLUMES[1],
  ]);
  assert.deepEqual(after.spec.containers[0].volumeMounts, [
    { name: "proc", mountPath: "/host/proc/" },
    { name: "cfg", mountPath: "/etc/kcm" },
    MOUNTS[1],
  ]);
});

Deno.test("reviewAdmission() adds the node selector beside the user's, affinity untouched", () => {
  const affinity = {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{
          matchExpressions: [{
            key: "zone",
            operator: "In",
            values: ["a"],
          }],
        }],
      },
    },
  };
  const { ops, after } = mutate(
    pod([{ name: "c", command: ["/c"], resources: cores(1) }], {
      spec: { nodeSelector: { disk: "ssd" }, affinity },
    }),
  );
  assert.ok(ops.some((o) =>
    o.op === "add" &&
    o.path === "/spec/nodeSelector/kcm.intel.com~1kcm-node"
  ));
  assert.deepEqual(after.spec.nodeSelector, {
    disk: "ssd",
    "kcm.intel.com/kcm-node": "true",
  });
  assert.deepEqual(after.spec.affinity, affinity);

  const already = mutate(
    pod([{ name: "c", command: ["/c"], resources: cores(1) }], {
      spec: { nodeSelector: { "kcm.intel.com/kcm-node": "true" } },
    }),
  );
  assert.ok(!already.ops.some((o) => o.path.startsWith("/spec/nodeSelector")));
});

Deno.test("reviewAdmission() adds the toleration only when none covers the kcm taint", () => {
  const other = { key: "gpu", operator: "Exists", effect: "NoSchedule" };
  const cases: [Json[], boolean][] = [
    [[other], true],
    [[{ operator: "Exists" }], false],
    [[{ key: "kcm", operator: "Exists" }], false],
    [[{ key: "kcm", operator: "Exists", effect: "NoSchedule" }], false],
    [[{ key: "kcm", value: "true", effect: "NoSchedule" }], false],
    [[{ key: "kcm", operator: "Equal", value: "false" }], true],
    [[{ key: "kcm", operator: "Exists", effect: "NoExecute" }], true],
    [[{ operator: "Exists", effect: "NoExecute" }], true],
  ];
  for (const [tolerations, added] of cases) {
    const { after } = mutate(
      pod([{ name: "c", command: ["/c"], resources: cores(1) }], {
        spec: { tolerations },
      }),
    );
    assert.deepEqual(
      after.spec.tolerations,
      added ? [...tolerations, TOLERATION] : tolerations,
      JSON.stringify(tolerations),
    );
  }
});

Deno.test("reviewAdmission() keeps the user's annotations and adds its own by escaped path", () => {
  const { ops, after } = mutate(
    pod([{ name: "c", command: ["/c"], resources: cores(1) }], {
      metadata: { annotations: { "a/b~c": "1" } },
    }),
  );
  assert.equal(ops[0]!.path, "/metadata/annotations/kcm.intel.com~1injected");
  assert.deepEqual(after.metadata.annotations, {
    "a/b~c": "1",
    "kcm.intel.com/injected": "true",
  });
  const marked = mutate(
    pod([{ name: "c", command: ["/c"], resources: cores(1) }], {
      metadata: { annotations: { "kcm.intel.com/injected": "true" } },
    }),
  );
  assert.ok(marked.ops.length > 0);
  assert.ok(!marked.ops.some((o) => o.path.startsWith("/metadata")));
  const bare = mutate({
    spec: { containers: [{ name: "c", command: ["/c"], resources: cores(1) }] },
  });
  assert.deepEqual(bare.after.metadata, {
    annotations: { "kcm.intel.com/injected": "true" },
  });
});

Deno.test("reviewAdmission() leaves init containers and core-less containers alone", () => {
  const init = {
    name: "init",
    command: ["/init"],
    resources: cores(1),
  };
  const sidecar = { name: "log", command: ["/log"] };
  const none = mutate(pod([sidecar], { spec: { initContainers: [init] } }));
  assert.deepEqual(none.ops, []);
  const { after } = mutate(
    pod([{ name: "c", command: ["/c"], resources: cores(1) }, sidecar], {
      spec: { initContainers: [init] },
    }),
  );
  assert.deepEqual(after.spec.initContainers, [init]);
  assert.deepEqual(after.spec.containers[1], sidecar);
});

Deno.test("reviewAdmission() runs core-less containers in the pool the pod names", () => {
  for (const pool of ["infra", "controlplane"]) {
    const { after } = mutate(
      pod([
        { name: "c", command: ["/c"], resources: cores(1) },
        { name: "log", command: ["/log"], args: ["-v"] },
      ], {
        metadata: { annotations: { "kcm.intel.com/pool-for-others": pool } },
      }),
    );
    const log = after.spec.containers[1];
    assert.deepEqual(log.command, [...kcmIsolate(pool), "/log", "--", "-v"]);
    assert.deepEqual(log.env, env());
    assert.deepEqual(log.volumeMounts, MOUNTS);
  }
  const alone = mutate(
    pod([{ name: "log", command: ["/log"] }], {
      metadata: { annotations: { "kcm.intel.com/pool-for-others": "infra" } },
    }),
  );
  assert.deepEqual(alone.ops, []);
});

Deno.test("reviewAdmission() leaves a pod annotated kcm.intel.com/inject=false alone", () => {
  const optedOut = mutate(
    pod([{ name: "c", resources: cores("1.5") }], {
      metadata: { annotations: { "kcm.intel.com/inject": "false" } },
    }),
  );
  assert.equal(optedOut.answer.status, 200);
  assert.deepEqual(optedOut.answer.review.response, {
    uid: "705ab4f5-6393-11e8-b7cc-42010a800002",
    allowed: true,
  });
  const other = mutate(
    pod([{ name: "c", command: ["/c"], resources: cores(1) }], {
      metadata: { annotations: { "kcm.intel.com/inject": "true" } },
    }),
  );
  assert.ok(other.ops.length > 0);
});

Deno.test("reviewAdmission() never wraps twice: reinvocation and re-submitted pods", () => {
  const first = mutate(pod([
    { name: "a", command: ["/a"], args: ["x"], resources: cores(2) },
    { name: "log", command: ["/log"] },
  ], {
    metadata: { annotations: { "kcm.intel.com/pool-for-others": "infra" } },
    spec: { tolerations: [], nodeSelector: {}, volumes: [] },
  }));
  const again = mutate(first.after);
  assert.deepEqual(again.ops, []);
  assert.deepEqual(again.answer.review.response.patch, undefined);
  // Re-submitted without the annotation, and with the server-set fields a
  // `kubectl get -o json` would carry: still nothing to do.
  const resubmitted = structuredClone(first.after);
  delete resubmitted.metadata.annotations["kcm.intel.com/injected"];
  resubmitted.metadata.uid = "x";
  resubmitted.status = { phase: "Pending" };
  assert.deepEqual(mutate(resubmitted).ops, []);
});

Deno.test("reviewAdmission() completes a hand-wired pod (resources/kcm-isolate-pod.yaml) without wrapping it again", async () => {
  const [example] = await readManifest("kcm-isolate-pod.yaml");
  const { after } = mutate(example!);
  const before = example!.spec.containers[0];
  const container = after.spec.containers[0];
  assert.deepEqual(container.command, before.command);
  assert.deepEqual(container.volumeMounts, before.volumeMounts);
  assert.deepEqual(after.spec.volumes, example!.spec.volumes);
  assert.deepEqual(after.spec.tolerations, example!.spec.tolerations);
  assert.deepEqual(container.env, [...before.env, {
    name: "KCM_NUM_CORES",
    value: "1",
  }]);
});

Deno.test("reviewAdmission() mounts the configured directories and runs kcm from the install dir", () => {
  const { after } = mutate(
    pod([{ name: "c", command: ["/c"], resources: cores(1) }]),
    { confDir: "/var/lib/kcm", installDir: "/usr/local/kcm/bin" },
  );
  const container = after.spec.containers[0];
  assert.deepEqual(container.command.slice(0, 4), [
    "/usr/local/kcm/bin/kcm",
    "isolate",
    "--conf-dir=/var/lib/kcm",
    "--pool=dataplane",
  ]);
  assert.deepEqual(
    container.volumeMounts.map((m: Json) => m.mountPath),
    ["/var/lib/kcm", "/usr/local/kcm/bin", "/host/proc"],
  );
  assert.deepEqual(
    after.spec.volumes.map((v: Json) => v.hostPath.path),
    ["/var/lib/kcm", "/usr/local/kcm/bin", "/proc"],
  );
});

Deno.test("reviewAdmission() allows other operations and subresources unchanged", () => {
  const object = pod([{ name: "c", resources: cores(1) }]);
  for (
    const request of [
      { operation: "UPDATE" },
      { operation: "DELETE", object: null },
      { operation: "CONNECT" },
      { subResource: "ephemeralcontainers" },
    ]
  ) {
    const { answer, ops } = mutate(object, undefined, request);
    assert.equal(answer.review.response.allowed, true, JSON.stringify(request));
    assert.deepEqual(ops, []);
  }
});

// Denials of pods kcm cannot run as asked: 200, status.code 403, one line.

Deno.test("reviewAdmission() denies a container asking for cores without a command, and says how to fix it", () => {
  for (const container of [{ name: "app" }, { name: "app", command: [] }]) {
    const { answer } = mutate(
      pod([{ ...container, args: ["x"], resources: cores(1) }]),
    );
    assert.equal(answer.status, 200);
    assert.equal(answer.review.response.status!.code, 403);
    const message = denial(answer);
    assert.match(
      message,
      /container "app" asks for kcm.intel.com\/dataplane-cores but has no command/,
    );
    assert.match(message, /set command/);
    assert.match(message, /kcm.intel.com\/inject: "false"/);
  }
  const other = mutate(pod([
    { name: "c", command: ["/c"], resources: cores(1) },
    { name: "side" },
  ], {
    metadata: { annotations: { "kcm.intel.com/pool-for-others": "infra" } },
  }));
  assert.match(
    denial(other.answer),
    /container "side" must run in pool "infra".*no command/,
  );
});

Deno.test("reviewAdmission() denies core counts that are not whole, positive, or equal in requests and limits", () => {
  const q = (v: unknown) => ({ "kcm.intel.com/dataplane-cores": v });
  const cases: [Json, RegExp][] = [
    [cores("1.5"), /limit must be a whole number of cores, got "1.5"/],
    [cores("1500m"), /whole number of cores, got "1500m"/],
    [cores("0"), /limit must be at least 1, got "0"/],
    [cores("-1"), /at least 1, got "-1"/],
    [cores("two"), /must be a quantity such as "2", got "two"/],
    [cores("5000"), /at most 4096/],
    [{ limits: q(true) }, /quantity such as "2", got "true"/],
    [{ limits: q(1.5) }, /whole number/],
    [
      { requests: q("2"), limits: q("1") },
      /request \(2\) differs from its limit \(1\)/,
    ],
    [{ requests: q("1") }, /requested without a limit/],
    [{ requests: q("x"), limits: q("1") }, /request must be a quantity/],
  ];
  for (const [resources, expected] of cases) {
    const { answer } = mutate(pod([{ name: "c", command: ["/c"], resources }]));
    assert.equal(answer.review.response.status?.code, 403);
    const message = denial(answer);
    assert.match(message, /^container "c": kcm.intel.com\/dataplane-cores /);
    assert.match(message, expected);
  }
});

Deno.test("reviewAdmission() denies a bad pool-for-others annotation and a contrary node selector", () => {
  const bad = mutate(
    pod([{ name: "c", command: ["/c"], resources: cores(1) }], {
      metadata: {
        annotations: { "kcm.intel.com/pool-for-others": "dataplane" },
      },
    }),
  );
  assert.match(
    denial(bad.answer),
    /kcm.intel.com\/pool-for-others is "dataplane"; it must name a shared pool: infra or controlplane/,
  );
  const selector = mutate(
    pod([{ name: "c", command: ["/c"], resources: cores(1) }], {
      spec: { nodeSelector: { "kcm.intel.com/kcm-node": "false" } },
    }),
  );
  assert.match(
    denial(selector.answer),
    /spec.nodeSelector sets kcm.intel.com\/kcm-node to "false"/,
  );
});

Deno.test("reviewAdmission() names every problem of a pod on one line", () => {
  const { answer } = mutate(pod([
    { name: "a", command: ["/a"], resources: cores("0") },
    { name: "b", resources: cores("x\ny") },
  ]));
  const message = denial(answer);
  assert.match(message, /container "a".*; container "b".*"x\\ny"/);
});
