import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import {
  createCertificateAuthority,
  issueServingCertificate,
} from "../../core/certificate_authority.ts";

const HOUR = 3_600_000;
const now = Date.now();
const window = {
  notBefore: new Date(now - HOUR),
  notAfter: new Date(now + 48 * HOUR),
};

Deno.test("createCertificateAuthority() makes a self-signed CA its key belongs to", async () => {
  const ca = await createCertificateAuthority({
    commonName: "test-ca",
    ...window,
  });
  const cert = new X509Certificate(ca.certPem);
  assert.ok(cert.ca);
  assert.equal(cert.subject, "CN=test-ca");
  assert.equal(cert.issuer, "CN=test-ca");
  assert.ok(cert.verify(cert.publicKey), "self-signed");
  assert.ok(cert.checkPrivateKey(createPrivateKey(ca.keyPem)));
  assert.equal(
    cert.validFromDate.getTime(),
    Math.floor(window.notBefore.getTime() / 1000) * 1000,
  );
  assert.equal(
    cert.validToDate.getTime(),
    Math.floor(window.notAfter.getTime() / 1000) * 1000,
  );
});

Deno.test("issueServingCertificate() issues a pair a TLS server serves and a client trusts for its names only", async () => {
  const ca = await createCertificateAuthority({
    commonName: "test-ca",
    ...window,
  });
  const leaf = await issueServingCertificate(ca, {
    commonName: "svc.ns.svc",
    dnsNames: ["svc.ns.svc", "localhost"],
    ipAddresses: ["127.0.0.1"],
    ...window,
  });
  const cert = new X509Certificate(leaf.certPem);
  assert.ok(!cert.ca);
  assert.ok(cert.checkIssued(new X509Certificate(ca.certPem)));
  assert.ok(cert.verify(new X509Certificate(ca.certPem).publicKey));
  assert.equal(cert.checkHost("svc.ns.svc"), "svc.ns.svc");
  assert.equal(cert.checkHost("other.ns.svc"), undefined);
  assert.equal(cert.checkIP("127.0.0.1"), "127.0.0.1");
  assert.ok(cert.checkPrivateKey(createPrivateKey(leaf.keyPem)));
  assert.ok(!cert.checkPrivateKey(createPrivateKey(ca.keyPem)));

  // A real TLS server with the pair, and clients trusting the CA.
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: leaf.certPem,
    key: leaf.keyPem,
    onListen() {},
  }, () => new Response("ok"));
  const client = Deno.createHttpClient({ caCerts: [ca.certPem] });
  try {
    for (const host of ["127.0.0.1", "localhost"]) {
      const response = await fetch(`https://${host}:${server.addr.port}/`, {
        client,
      });
      assert.equal(await response.text(), "ok");
    }
    const other = await createCertificateAuthority({
      commonName: "other",
      ...window,
    });
    const stranger = Deno.createHttpClient({ caCerts: [other.certPem] });
    try {
      await assert.rejects(
        fetch(`https://127.0.0.1:${server.addr.port}/`, { client: stranger }),
      );
    } finally {
      stranger.close();
    }
  } finally {
    client.close();
    await server.shutdown();
  }
});

Deno.test("issueServingCertificate() refuses an address that is not IPv4", async () => {
  const ca = await createCertificateAuthority({
    commonName: "test-ca",
    ...window,
  });
  await assert.rejects(
    issueServingCertificate(ca, {
      commonName: "x",
      dnsNames: [],
      ipAddresses: ["::1"],
      ...window,
    }),
    RangeError,
  );
});
