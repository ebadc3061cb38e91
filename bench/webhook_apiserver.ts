// deno-lint-ignore-file no-console
/**
 * Benchmark 6's last rows: pod creates through a real kube-apiserver with
 * the webhook behind it.
 */

import { percentile } from "./measure.ts";
import { type Row, timeRow } from "./table.ts";

/**
 * What a user sees: creating a pod (dry run) through a real kube-apiserver
 * with the shipped MutatingWebhookConfiguration pointing at the running
 * webhook, against the same pod without dataplane cores (not sent to the
 * webhook, see its matchConditions); one request at a time, interleaved.
 * Skipped, saying why, when the test control plane cannot start.
 */
export async function apiserverRows(
  kcm: { readonly url: string; readonly caPem: string },
  body: string,
  quick: boolean,
): Promise<Row[]> {
  const { startControlPlane } = await import("../tests/k8s/testenv.ts");
  const { applyObject, readManifest } = await import(
    "../tests/_helpers/k8s_manifests.ts"
  );
  let cp;
  const clients: Deno.HttpClient[] = [];
  try {
    cp = await startControlPlane();
  } catch (error) {
    console.log(
      `webhook: API server rows skipped: ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
    return [];
  }
  try {
    const config = (await readManifest("kcm-webhook.yaml")).find((o) =>
      o.kind === "MutatingWebhookConfiguration"
    )!;
    config.webhooks[0].clientConfig = {
      url: `${kcm.url}/mutate`,
      caBundle: btoa(kcm.caPem),
    };
    const applied = await applyObject(cp, config);
    if (applied.status >= 300) throw new Error(JSON.stringify(applied.body));
    const withCores = JSON.parse(body).request.object;
    delete withCores.metadata.namespace;
    const without = structuredClone(withCores);
    for (const c of without.spec.containers) {
      delete c.resources.requests?.["kcm.intel.com/dataplane-cores"];
      delete c.resources.limits?.["kcm.intel.com/dataplane-cores"];
    }
    // HTTP/1.1: Deno's HTTP/2 client adds ~40 ms to requests with a body.
    const client = Deno.createHttpClient({
      caCerts: [cp.caPem],
      http2: false,
    });
    clients.push(client);
    const create = async (pod: unknown, mutated: boolean) => {
      const t0 = performance.now();
      const response = await fetch(
        `${cp.url}/api/v1/namespaces/default/pods?dryRun=All`,
        {
          method: "POST",
          body: JSON.stringify(pod),
          headers: {
            authorization: `Bearer ${cp.adminToken}`,
            "content-type": "application/json",
          },
          client,
        },
      );
      const r = { status: response.status, body: await response.json() };
      const ms = performance.now() - t0;
      const wrapped = r.body?.spec?.containers?.[0]?.command?.[0] ===
        "/opt/bin/kcm";
      if (r.status !== 201 || wrapped !== mutated) {
        throw new Error(
          `pod create: HTTP ${r.status} ${JSON.stringify(r.body)}`,
        );
      }
      return ms;
    };
    // The API server picks the configuration up asynchronously.
    const deadline = performance.now() + 20_000;
    while (true) {
      try {
        await create(withCores, true);
        break;
      } catch (error) {
        if (performance.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    const sent: number[] = [], notSent: number[] = [];
    const rounds = quick ? 5 : 20;
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < 10; i++) {
        sent.push(await create(withCores, true));
        notSent.push(await create(without, false));
      }
    }
    return [
      timeRow(
        "8. pod create through kube-apiserver (dry run), sent to the webhook: p50",
        percentile(sent, 50),
        "same pod without cores (not sent)",
        percentile(notSent, 50),
      ),
      timeRow(
        "8. pod create through kube-apiserver (dry run), sent to the webhook: p99",
        percentile(sent, 99),
        "same pod without cores (not sent)",
        percentile(notSent, 99),
      ),
    ];
  } finally {
    for (const client of clients) client.close();
    await cp.stop();
  }
}
