/**
 * Pieces for running cluster-init against many fake nodes (the scale test
 * and bench/cluster_init_scale.ts): creating the nodes, a "kubelet" that
 * only marks kcm's setup pods Succeeded (no process runs), and a plain
 * HTTP proxy in front of the API server that counts how many pod
 * creations are in flight at once.
 */

import type { ControlPlane } from "../k8s/testenv.ts";
import { createNode } from "../k8s/testenv.ts";

/** Creates `names` as fake nodes, `concurrency` at a time. */
export async function createNodes(
  cp: ControlPlane,
  names: readonly string[],
  concurrency = 16,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < names.length) await createNode(cp, names[next++]!);
    }),
  );
}

/** A running completer; dispose to stop it. */
export interface PodCompleter extends AsyncDisposable {
  /** Pods marked Succeeded so far. */
  readonly completed: () => number;
}

/**
 * Marks every setup pod in `namespace` that has no phase yet as
 * Succeeded (its one container terminated with exit code 0), and removes
 * (grace period 0) the ones being deleted, polling every `intervalMs`: a
 * kubelet whose pods all succeed at once.
 */
export function completeSetupPods(
  cp: ControlPlane,
  namespace: string,
  intervalMs = 200,
): PodCompleter {
  let stopping = false;
  let completed = 0;
  const done = new Set<string>();
  const loop = (async () => {
    while (!stopping) {
      const list = await cp.api(
        "GET",
        `/api/v1/namespaces/${namespace}/pods?labelSelector=app.kubernetes.io/component=setup`,
      );
      const items = list.body?.items ?? [];
      const deleting = items.filter((
        p: { metadata: { deletionTimestamp?: string } },
      ) => p.metadata.deletionTimestamp !== undefined);
      const pending = items.filter((
        p: {
          metadata: { uid: string; deletionTimestamp?: string };
          status?: { phase?: string };
        },
      ) =>
        !done.has(p.metadata.uid) && !p.metadata.deletionTimestamp &&
        (p.status?.phase === undefined || p.status.phase === "Pending")
      );
      for (const pod of deleting) {
        await cp.api(
          "DELETE",
          `/api/v1/namespaces/${namespace}/pods/${pod.metadata.name}`,
          {
            apiVersion: "v1",
            kind: "DeleteOptions",
            gracePeriodSeconds: 0,
            preconditions: { uid: pod.metadata.uid },
          },
        );
      }
      let next = 0;
      await Promise.all(Array.from({ length: 16 }, async () => {
        while (next < pending.length) {
          // deno-lint-ignore no-explicit-any
          const pod: any = pending[next++];
          const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
          const r = await cp.api(
            "PATCH",
            `/api/v1/namespaces/${namespace}/pods/${pod.metadata.name}/status`,
            {
              status: {
                phase: "Succeeded",
                containerStatuses: pod.spec.containers.map((
                  c: { name: string; image: string },
                ) => ({
                  name: c.name,
                  image: c.image,
                  imageID: "",
                  ready: false,
                  restartCount: 0,
                  started: false,
                  state: {
                    terminated: {
                      exitCode: 0,
                      reason: "Completed",
                      startedAt: now,
                      finishedAt: now,
                    },
                  },
                })),
              },
            },
            { contentType: "application/merge-patch+json" },
          );
          if (r.status === 200) {
            done.add(pod.metadata.uid);
            completed++;
          }
        }
      }));
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    completed: () => completed,
    async [Symbol.asyncDispose]() {
      stopping = true;
      await loop;
    },
  };
}

/** A counting proxy; dispose to stop it. */
export interface CountingProxy extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Most pod creations in flight at one time. */
  readonly peakPodCreates: () => number;
  /** Every request forwarded. */
  readonly requests: () => number;
}

/**
 * A plain-HTTP proxy on 127.0.0.1 that forwards every request to the API
 * server (over TLS) and keeps count of concurrent pod creations.
 */
export function countingProxy(cp: ControlPlane): CountingProxy {
  const client = Deno.createHttpClient({ caCerts: [cp.caPem] });
  let inFlight = 0;
  let peak = 0;
  let requests = 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      const url = new URL(request.url);
      const create = request.method === "POST" &&
        /^\/api\/v1\/namespaces\/[^/]+\/pods$/.test(url.pathname);
      requests++;
      if (create) peak = Math.max(peak, ++inFlight);
      try {
        const headers = new Headers();
        for (
          const name of [
            "authorization",
            "content-type",
            "accept",
            "user-agent",
          ]
        ) {
          const value = request.headers.get(name);
          if (value !== null) headers.set(name, value);
        }
        const answer = await fetch(`${cp.url}${url.pathname}${url.search}`, {
          method: request.method,
          headers,
          body: request.body === null ? null : await request.arrayBuffer(),
          client,
        });
        // fetch has decoded the body: its encoding and length are gone.
        const forwarded = new Headers(answer.headers);
        forwarded.delete("content-encoding");
        forwarded.delete("content-length");
        return new Response(await answer.arrayBuffer(), {
          status: answer.status,
          headers: forwarded,
        });
      } finally {
        if (create) inFlight--;
      }
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    peakPodCreates: () => peak,
    requests: () => requests,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      client.close();
    },
  };
}

/**
 * A kubeconfig for `server` with `token`, trusting `caPem` (default the
 * control plane's CA), written into `cp.dir`.
 */
export async function writeKubeconfig(
  cp: ControlPlane,
  name: string,
  server: string,
  token: string,
  caPem: string = cp.caPem,
): Promise<string> {
  const path = `${cp.dir}/${name}.kubeconfig`;
  await Deno.writeTextFile(
    path,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      "current-context": "c",
      contexts: [{
        name: "c",
        context: { cluster: "k", user: "u", namespace: "kcm-system" },
      }],
      clusters: [{
        name: "k",
        cluster: { server, "certificate-authority-data": btoa(caPem) },
      }],
      users: [{ name: "u", user: { token } }],
    }),
  );
  return path;
}
