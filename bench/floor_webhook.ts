/**
 * The webhook benchmark's baseline server: `Deno.serve` over TLS that reads
 * each request body whole and answers a fixed AdmissionReview, with no
 * parsing, routing or mutation. What HTTPS in Deno costs by itself.
 *
 * `deno run --allow-all bench/floor_webhook.ts <cert> <key>`; prints
 * `listening on https://127.0.0.1:<port>` on stderr; SIGTERM stops it.
 */

const [certFile = "", keyFile = ""] = Deno.args;
const answer = JSON.stringify({
  apiVersion: "admission.k8s.io/v1",
  kind: "AdmissionReview",
  response: { uid: "floor", allowed: true },
});
const stop = new AbortController();
Deno.addSignalListener("SIGTERM", () => stop.abort());
const server = Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  cert: Deno.readTextFileSync(certFile),
  key: Deno.readTextFileSync(keyFile),
  signal: stop.signal,
  onListen({ port }) {
    Deno.stderr.writeSync(
      new TextEncoder().encode(`listening on https://127.0.0.1:${port}\n`),
    );
  },
}, async (request) => {
  await request.arrayBuffer();
  return new Response(answer, {
    headers: { "content-type": "application/json" },
  });
});
await server.finished;
