/**
 * The webhook end to end on a real kube-apiserver: `deno run main.ts
 * webhook` on 127.0.0.1 with a serving certificate from kcm's own CA code
 * (core/certificate_authority.ts, so the API server's Go TLS stack checks
 * what kcm makes), the shipped MutatingWebhookConfiguration
 * (resources/kcm-webhook.yaml) pointed at it with that CA as caBundle, and
 * pods of several shapes created through the API. The stored objects show
 * that the API server applied the JSON Patch as the webhook meant it, that
 * the selectors and matchConditions send only the pods they should, that
 * reinvocation does not wrap twice, and what failurePolicy Fail does while
 * the webhook is down. Then the test kubelet runs the 2-core pod as it was
 * stored: its process is pinned to exactly the two claimed dataplane lists
 * (real CPUs 0 and 1), which are free again once it exits.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type CertificatePair,
  createCertificateAuthority,
  issueServingCertificate,
} from "../../../core/certificate_authority.ts";
import { allowedReview } from "../../../core/webhook/admission_review.ts";
import { pointer } from "../../../core/webhook/json_patch.ts";
import { cores, type Json, kcmIsolate, pod } from "../../_helpers/admission.ts";
import { applyObject, readManifest } from "../../_helpers/k8s_manifests.ts";
import { REPO_ROOT } from "../../_helpers/run_cli.ts";
import { waitFor } from "../../_helpers/wait.ts";
import { startWebhookProcess } from "../../_helpers/webhook_process.ts";
import {
  createNamespace,
  createNode,
  startControlPlane,
} from "../../k8s/testenv.ts";
import { startTestKubelet } from "../../k8s/test_kubelet.ts";

const HOUR = 3_600_000;

/** A serving pair for 127.0.0.1 from `ca`, written into `dir` as `<name>.crt/.key`. */
async function issueLocal(
  ca: CertificatePair,
  dir: string,
  name: string,
): Promise<{ certFile: string; keyFile: string }> {
  const now = Date.now();
  const pair = await issueServingCertificate(ca, {
    commonName: name,
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
    notBefore: new Date(now - HOUR),
    notAfter: new Date(now + 24 * HOUR),
  });
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  await Deno.writeTextFile(certFile, pair.certPem);
  await Deno.writeTextFile(keyFile, pair.keyPem);
  return { certFile, keyFile };
}

/** The `Cpus_allowed_list` of a live process. */
async function allowedCpus(pid: number): Promise<string> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const match = /^Cpus_allowed_list:\s*(\S+)$/m.exec(status);
  assert.ok(match, `no Cpus_allowed_list for pid ${pid}`);
  return match[1]!;
}

/** Not the token volume (or its mount) the ServiceAccount admission adds. */
function notServiceAccount(volume: Json): boolean {
  return !volume.name.startsWith("kube-api-access-");
}

/** The shipped configuration, calling `url` and trusting `caPem`. */
async function webhookConfiguration(url: string, caPem: string): Promise<Json> {
  const objects = await readManifest("kcm-webhook.yaml");
  const config = objects.find((o) =>
    o.kind === "MutatingWebhookConfiguration"
  )!;
  config.webhooks[0].clientConfig = { url, caBundle: btoa(caPem) };
  return config;
}

/** A second mutating webhook that labels every pod once, called after kcm's. */
async function startLabeler(certFile: string, keyFile: string) {
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: await Deno.readTextFile(certFile),
    key: await Deno.readTextFile(keyFile),
    onListen() {},
  }, async (request) => {
    const body = await request.json();
    const labels = body.request.object.metadata.labels;
    const patch = labels === undefined
      ? [{ op: "add", path: "/metadata/labels", value: { touched: "yes" } }]
      : labels.touched === "yes"
      ? []
      : [{
        op: "add",
        path: pointer("metadata", "labels", "touched"),
        value: "yes",
      }];
    return Response.json(
      allowedReview(body.request.uid, patch as never),
    );
  });
  return server;
}

Deno.test("the API server stores pods as the webhook patched them", async (t) => {
  await using cp = await startControlPlane();
  await createNamespace(cp, "kcm-system");
  const dir = await Deno.makeTempDir({ prefix: "kcm-admission-" });
  await using _dir = {
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
  const now = Date.now();
  const ca = await createCertificateAuthority({
    commonName: "kcm-test-ca",
    notBefore: new Date(now - HOUR),
    notAfter: new Date(now + 24 * HOUR),
  });
  const served = await issueLocal(ca, dir, "webhook");
  await using webhook = await startWebhookProcess(served);
  const config = await webhookConfiguration(
    `${webhook.url}/mutate`,
    ca.certPem,
  );
  const applied = await applyObject(cp, config);
  assert.ok(applied.status < 300, JSON.stringify(applied.body));

  const create = (object: Json, namespace = "default", dryRun = false) =>
    cp.api(
      "POST",
      `/api/v1/namespaces/${namespace}/pods${dryRun ? "?dryRun=All" : ""}`,
      object,
    );
  const calls = (name: string) =>
    webhook.stderr().split("\n").filter((l) => l.includes(` default/${name}`));

  // The API server loads webhook configurations asynchronously.
  await waitFor("the webhook configuration to take effect", async () => {
    const probe = await create(
      pod([{ name: "c", image: "i", command: ["/c"], resources: cores(1) }], {
        metadata: { name: "probe" },
      }),
      "default",
      true,
    );
    return probe.body?.spec?.containers?.[0]?.command?.[0] === "/opt/bin/kcm"
      ? true
      : undefined;
  });

  await t.step("one container asking for one core", async () => {
    const r = await create(pod([{
      name: "fwd",
      image: "fwd:1",
      command: ["/usr/bin/fwd"],
      args: ["--lcores", "$(KCM_CPUS_ASSIGNED)"],
      resources: cores(1),
    }], { metadata: { name: "one" } }));
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const stored = (await cp.api("GET", "/api/v1/namespaces/default/pods/one"))
      .body;
    const [c] = stored.spec.containers;
    assert.deepEqual(c.command, [
      ...kcmIsolate(),
      "/usr/bin/fwd",
      "--",
      "--lcores",
      "$(KCM_CPUS_ASSIGNED)",
    ]);
    assert.equal(c.args, undefined);
    assert.deepEqual(c.env, [
      { name: "KCM_PROC_FS", value: "/host/proc" },
      { name: "KCM_NUM_CORES", value: "1" },
    ]);
    assert.deepEqual(
      c.volumeMounts.filter(notServiceAccount).map((
        m: Json,
      ) => [m.name, m.mountPath, m.readOnly ?? false]),
      [
        ["kcm-conf-dir", "/etc/kcm", false],
        ["kcm-install-dir", "/opt/bin", true],
        ["kcm-host-proc", "/host/proc", true],
      ],
    );
    assert.deepEqual(
      stored.spec.volumes.filter((v: Json) => v.hostPath).map((v: Json) => [
        v.name,
        v.hostPath.path,
        v.hostPath.type,
      ]),
      [
        ["kcm-conf-dir", "/etc/kcm", "Directory"],
        ["kcm-install-dir", "/opt/bin", "Directory"],
        ["kcm-host-proc", "/proc", "Directory"],
      ],
    );
    assert.ok(
      stored.spec.tolerations.some((t: Json) =>
        t.key === "kcm" && t.operator === "Equal" && t.value === "true" &&
        t.effect === "NoSchedule"
      ),
      JSON.stringify(stored.spec.tolerations),
    );
    assert.deepEqual(stored.spec.nodeSelector, {
      "kcm.intel.com/kcm-node": "true",
    });
    assert.equal(
      stored.metadata.annotations["kcm.intel.com/injected"],
      "true",
    );
  });

  await t.step(
    "two containers asking for 2 and 1 cores, beside the user's selector and volumes",
    async () => {
      const r = await create(pod([
        { name: "a", image: "i", command: ["/a"], resources: cores(2) },
        { name: "b", image: "i", command: ["/b"], resources: cores(1) },
        { name: "log", image: "i", command: ["/log"] },
      ], {
        metadata: { name: "two" },
        spec: {
          nodeSelector: { disk: "ssd" },
          volumes: [{ name: "kcm-conf-dir", emptyDir: {} }],
        },
      }));
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const { spec } = r.body;
      assert.deepEqual(spec.containers[0].env[1], {
        name: "KCM_NUM_CORES",
        value: "2",
      });
      assert.deepEqual(spec.containers[1].env[1], {
        name: "KCM_NUM_CORES",
        value: "1",
      });
      assert.deepEqual(spec.containers[2].command, ["/log"]);
      assert.deepEqual(spec.nodeSelector, {
        disk: "ssd",
        "kcm.intel.com/kcm-node": "true",
      });
      assert.deepEqual(
        spec.volumes.filter(notServiceAccount).map((v: Json) => v.name),
        ["kcm-conf-dir", "kcm-conf-dir-1", "kcm-install-dir", "kcm-host-proc"],
      );
    },
  );

  await t.step(
    "a container without a command is refused with the webhook's reason",
    async () => {
      const r = await create(
        pod([{ name: "app", image: "i", resources: cores(1) }], {
          metadata: { name: "no-command" },
        }),
      );
      assert.equal(r.status, 403, JSON.stringify(r.body));
      assert.match(
        r.body.message,
        /admission webhook "pods.kcm.intel.com" denied the request: container "app" asks for kcm.intel.com\/dataplane-cores but has no command/,
      );
      const bad = await create(pod([{
        name: "c",
        image: "i",
        command: ["/c"],
        resources: cores("0"),
      }], { metadata: { name: "zero" } }));
      assert.equal(bad.status, 403);
      assert.match(bad.body.message, /limit must be at least 1, got "0"/);
    },
  );

  await t.step(
    "opted-out, core-less and kcm-system pods are stored as sent",
    async () => {
      const optedOut = await create(pod([{
        name: "c",
        image: "i",
        resources: cores(1),
      }], {
        metadata: {
          name: "opted-out",
          annotations: { "kcm.intel.com/inject": "false" },
        },
      }));
      assert.equal(optedOut.status, 201, JSON.stringify(optedOut.body));
      assert.equal(optedOut.body.spec.containers[0].command, undefined);
      assert.equal(calls("opted-out").length, 1);

      const plain = await create(pod([{ name: "c", image: "i" }], {
        metadata: { name: "plain" },
      }));
      assert.equal(plain.status, 201);
      assert.deepEqual(calls("plain"), [], "matchConditions let it through");

      const skipped = await create(
        pod([{ name: "c", image: "i", resources: cores(1) }], {
          metadata: {
            name: "skipped",
            labels: { "kcm.intel.com/webhook": "skip" },
          },
        }),
      );
      assert.equal(skipped.status, 201);
      assert.deepEqual(calls("skipped"), []);

      const own = await create(
        pod([{ name: "c", image: "i", resources: cores(1) }], {
          metadata: { name: "own", namespace: "kcm-system" },
        }),
        "kcm-system",
      );
      assert.equal(own.status, 201, JSON.stringify(own.body));
      assert.equal(own.body.spec.containers[0].command, undefined);
    },
  );

  await t.step(
    "a pod mutated twice (reinvocation, then re-submitted) is wrapped once",
    async () => {
      const leaf = await issueLocal(ca, dir, "labeler");
      const labeler = await startLabeler(leaf.certFile, leaf.keyFile);
      try {
        const other = await applyObject(cp, {
          apiVersion: "admissionregistration.k8s.io/v1",
          kind: "MutatingWebhookConfiguration",
          metadata: { name: "zz-labeler" },
          webhooks: [{
            name: "labeler.example.com",
            admissionReviewVersions: ["v1"],
            sideEffects: "None",
            failurePolicy: "Fail",
            clientConfig: {
              url: `https://127.0.0.1:${labeler.addr.port}/`,
              caBundle: btoa(ca.certPem),
            },
            rules: [{
              operations: ["CREATE"],
              apiGroups: [""],
              apiVersions: ["v1"],
              resources: ["pods"],
            }],
            namespaceSelector: {
              matchLabels: { "kubernetes.io/metadata.name": "default" },
            },
          }],
        });
        assert.ok(other.status < 300, JSON.stringify(other.body));
        await waitFor("the labeler to take effect", async () => {
          const probe = await create(
            pod([{ name: "c", image: "i" }], {
              metadata: { name: "label-probe" },
            }),
            "default",
            true,
          );
          return probe.body?.metadata?.labels?.touched === "yes"
            ? true
            : undefined;
        });
        const r = await create(pod([{
          name: "c",
          image: "i",
          command: ["/c"],
          args: ["x"],
          resources: cores(2),
        }], { metadata: { name: "twice" } }));
        assert.equal(r.status, 201, JSON.stringify(r.body));
        assert.equal(r.body.metadata.labels.touched, "yes");
        assert.deepEqual(r.body.spec.containers[0].command, [
          ...kcmIsolate(),
          "/c",
          "--",
          "x",
        ]);
        const log = calls("twice");
        assert.equal(log.length, 2, log.join("\n"));
        assert.match(log[0]!, /patched/);
        assert.match(log[1]!, /allowed unchanged/);

        // The stored pod, re-submitted under another name.
        const { metadata, spec } = r.body;
        const again = await create({
          apiVersion: "v1",
          kind: "Pod",
          metadata: {
            name: "twice-again",
            labels: metadata.labels,
            annotations: metadata.annotations,
          },
          spec,
        });
        assert.equal(again.status, 201, JSON.stringify(again.body));
        assert.deepEqual(again.body.spec.containers, spec.containers);
        assert.deepEqual(again.body.spec.volumes, spec.volumes);
      } finally {
        await cp.api(
          "DELETE",
          "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/zz-labeler",
        );
        await labeler.shutdown();
      }
    },
  );

  await t.step(
    "the stored 2-core pod runs pinned to its two dataplane lists, which are free after it exits",
    async () => {
      await createNode(cp, "node-1", {
        labels: { "kcm.intel.com/kcm-node": "true" },
      });
      await using kubelet = await startTestKubelet(cp, {
        nodes: ["node-1"],
        repoRoot: REPO_ROOT,
      });
      // The node's config directory: one exclusive dataplane pool whose
      // lists are this machine's two CPUs, as `kcm init` would make them.
      const confDir = join(kubelet.nodeRoot("node-1"), "etc/kcm");
      const pool = join(confDir, "pools/dataplane");
      for (const list of ["0", "1"]) {
        await Deno.mkdir(join(pool, list), { recursive: true });
        await Deno.writeTextFile(join(pool, list, "tasks"), "");
      }
      await Deno.writeTextFile(join(pool, "exclusive"), "1");
      await Deno.writeTextFile(join(confDir, "lock"), "");
      await Deno.mkdir(join(kubelet.nodeRoot("node-1"), "opt/bin"), {
        recursive: true,
      });
      const release = join(dir, "release");
      const r = await create(pod([{
        name: "fwd",
        image: "fwd:1",
        command: ["sh", "-c"],
        args: [
          `echo "assigned $KCM_CPUS_ASSIGNED"; while [ ! -e ${release} ]; do sleep 0.1; done`,
        ],
        resources: cores(2),
      }], {
        metadata: { name: "pinned" },
        spec: { nodeName: "node-1", restartPolicy: "Never" },
      }));
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.deepEqual(r.body.spec.containers[0].command.slice(0, 5), [
        ...kcmIsolate(),
        "sh",
      ]);

      const kcmPid = await waitFor(
        "the container's process",
        async () =>
          await Promise.resolve(
            kubelet.containerPid("default", "pinned", "fwd"),
          ),
        60_000,
      );
      // kcm isolate pins itself, then starts the command: wait for the
      // command (sh, kcm's child) and read both masks back.
      const childPid = await waitFor(
        "the command under kcm isolate",
        async () => {
          const text = await Deno.readTextFile(
            `/proc/${kcmPid}/task/${kcmPid}/children`,
          ).catch(() => "");
          const found = text.trim().split(/\s+/).filter((x) => x !== "");
          for (const task of found) {
            const comm = await Deno.readTextFile(`/proc/${task}/comm`)
              .catch(() => "");
            if (comm.trim() === "sh" || comm.trim() === "bash") {
              return Number(task);
            }
          }
          return undefined;
        },
        60_000,
      );
      assert.equal(await allowedCpus(childPid), "0-1");
      assert.equal(await allowedCpus(kcmPid), "0-1");
      const tasks = async () =>
        await Promise.all(
          ["0", "1"].map((l) => Deno.readTextFile(join(pool, l, "tasks"))),
        );
      assert.deepEqual(await tasks(), [String(kcmPid), String(kcmPid)]);
      // The command may not have printed yet: wait for its line.
      const line = await waitFor("the command's first line", async () => {
        const text = await kubelet.logs("default", "pinned", "fwd");
        return /^assigned /m.test(text) ? text : undefined;
      });
      assert.match(line, /^assigned 0-1$/m);

      await Deno.writeTextFile(release, "");
      const done = await kubelet.waitForPod("default", "pinned");
      assert.equal(
        done.status.phase,
        "Succeeded",
        await kubelet.logs("default", "pinned", "fwd"),
      );
      assert.deepEqual(await tasks(), ["", ""]);
      assert.deepEqual(kubelet.errors, []);
    },
  );

  await t.step(
    "while the webhook is down, pods asking for cores are refused, others are not",
    async () => {
      const { code, stderr } = await webhook.stop();
      assert.equal(code, 0, stderr);
      const r = await create(
        pod([{ name: "c", image: "i", command: ["/c"], resources: cores(1) }], {
          metadata: { name: "down" },
        }),
      );
      assert.equal(r.status, 500, JSON.stringify(r.body));
      assert.match(
        r.body.message,
        /failed calling webhook "pods.kcm.intel.com"/,
      );
      const plain = await create(pod([{ name: "c", image: "i" }], {
        metadata: { name: "plain-while-down" },
      }));
      assert.equal(plain.status, 201, JSON.stringify(plain.body));
    },
  );
});
