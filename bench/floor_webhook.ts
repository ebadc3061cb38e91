/**
 * The webhook benchmark's baseline server: the same HTTPS stack as kcm's
 * webhook (`node:https` in Deno), reading each request body whole and
 * answering the same bytes kcm would answer (read from a file), with no
 * parsing, routing or mutation. What HTTPS in Deno costs by itself.
 *
 * `deno run --allow-all bench/floor_webhook.ts <cert> <key> <answer-file>`;
 * prints `listening on https://127.0.0.1:<port>` on stderr; SIGTERM stops
 * it.
 */

import { Buffer } from "node:buffer";
import { createServer } from "node:https";

const [certFile = "", keyFile = "", answerFile = ""] = Deno.args;
const answer = Deno.readFileSync(answerFile);
const server = createServer({
  cert: Deno.readTextFileSync(certFile),
  key: Deno.readTextFileSync(keyFile),
}, (request, response) => {
  const chunks: Uint8Array[] = [];
  request.on("data", (chunk: Uint8Array) => chunks.push(chunk));
  request.on("end", () => {
    Buffer.concat(chunks);
    response.writeHead(200, {
      "content-type": "application/json",
      "content-length": answer.length,
    });
    response.end(answer);
  });
});
server.keepAliveTimeout = 120_000;
server.listen(0, "127.0.0.1", () => {
  const address = server.address() as { port: number };
  Deno.stderr.writeSync(
    new TextEncoder().encode(
      `listening on https://127.0.0.1:${address.port}\n`,
    ),
  );
});
Deno.addSignalListener("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
});
