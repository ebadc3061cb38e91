import assert from "node:assert/strict";
import {
  createK8sClient,
  type K8sClient,
  type RequestOptions,
} from "../../../core/k8s/client.ts";
import { loadClientConfig } from "../../../core/k8s/config.ts";
import {
  advertiseDataplaneCores,
  escapePointer,
  labelAndTaintNode,
  type NodeObject,
  planLabelAndTaint,
  type Taint,
} from "../../../core/k8s/nodes.ts";
import { systemClock } from "../../../core/host.ts";
import { createLogger } from "../../../core/log.ts";
import { createNode, startControlPlane } from "../../k8s/testenv.ts";

function node(
  labels: Record<string, string> | undefined,
  taints: Taint[] | undefined,
): NodeObject {
  return {
    metadata: {
      name: "n",
      resourceVersion: "42",
      ...(labels ? { labels } : {}),
    },
    spec: taints === undefined ? {} : { taints },
  };
}

Deno.test("escapePointer() escapes ~ before /", () => {
  assert.equal(escapePointer("a~/b"), "a~0~1b");
});

Deno.test("planLabelAndTaint() adds only what is missing", () => {
  const kcm = { key: "kcm", value: "true", effect: "NoSchedule" };
  const other = { key: "gpu", effect: "NoExecute" };
  const cases: [string, NodeObject, string[]][] = [
    ["bare node", node(undefined, undefined), [
      'test /metadata/resourceVersion "42"',
      'add /metadata/labels {"kcm.intel.com/kcm-node":"true"}',
      `add /spec/taints [${JSON.stringify(kcm)}]`,
    ]],
    ["other label and taint", node({ a: "b" }, [other]), [
      'test /metadata/resourceVersion "42"',
      'add /metadata/labels/kcm.intel.com~1kcm-node "true"',
      `add /spec/taints/- ${JSON.stringify(kcm)}`,
    ]],
    [
      "kcm taint with another value is replaced in place",
      node({ "kcm.intel.com/kcm-node": "true" }, [
        other,
        { key: "kcm", value: "false", effect: "NoSchedule" },
      ]),
      [
        'test /metadata/resourceVersion "42"',
        `replace /spec/taints/1 ${JSON.stringify(kcm)}`,
      ],
    ],
    [
      "kcm NoExecute taint is someone else's: kcm adds its own",
      node({ "kcm.intel.com/kcm-node": "true" }, [
        { key: "kcm", effect: "NoExecute" },
      ]),
      [
        'test /metadata/resourceVersion "42"',
        `add /spec/taints/- ${JSON.stringify(kcm)}`,
      ],
    ],
    [
      "everything in place",
      node({ "kcm.intel.com/kcm-node": "true" }, [other, kcm]),
      [],
    ],
  ];
  for (const [what, input, expected] of cases) {
    assert.deepEqual(
      planLabelAndTaint(input).map((o) =>
        `${o.op} ${o.path} ${JSON.stringify(o.value)}`
      ),
      expected,
      what,
    );
  }
});

/** A client that runs `before` once, just before the first PATCH. */
function interfering(
  client: K8sClient,
  before: () => Promise<void>,
): K8sClient {
  let done = false;
  return {
    ...client,
    async request<T>(method: string, path: string, options?: RequestOptions) {
      if (method === "PATCH" && !done) {
        done = true;
        await before();
      }
      return await client.request<T>(method, path, options);
    },
  };
}

Deno.test("labelAndTaintNode() keeps a taint written between its read and patch", async () => {
  await using cp = await startControlPlane();
  await createNode(cp, "n1");
  // No taints at all: kcm's plan is then to add the whole list, which
  // would wipe a list written in between if the patch were not guarded.
  await cp.api("PATCH", "/api/v1/nodes/n1", { spec: { taints: null } }, {
    contentType: "application/merge-patch+json",
  });
  const log = createLogger("DEBUG", () => {});
  const real = createK8sClient(
    await loadClientConfig(
      { KUBECONFIG: cp.adminKubeconfig },
      Deno.readTextFile,
    ),
    { log, clock: systemClock },
  );
  const client = interfering(real, async () => {
    const r = await cp.api("PATCH", "/api/v1/nodes/n1", {
      spec: { taints: [{ key: "sneaky", effect: "NoSchedule" }] },
    }, { contentType: "application/merge-patch+json" });
    assert.equal(r.status, 200);
  });
  try {
    assert.deepEqual(
      await labelAndTaintNode(client, "n1", { clock: systemClock }),
      {
        labelled: true,
        tainted: true,
      },
    );
    await advertiseDataplaneCores(client, "n1", 2);
  } finally {
    real.close();
  }
  const n = (await cp.api("GET", "/api/v1/nodes/n1")).body;
  assert.deepEqual(
    n.spec.taints.map((t: { key: string }) => t.key).sort(),
    ["kcm", "sneaky"],
  );
  assert.equal(n.metadata.labels["kcm.intel.com/kcm-node"], "true");
  assert.equal(n.status.capacity["kcm.intel.com/dataplane-cores"], "2");
});
