/**
 * Certificates for TLS failure tests, made with openssl in a temp folder:
 * a CA, a second unrelated CA, and server certificates for 127.0.0.1 that
 * are good, name another host, expired, or not valid yet (the last two
 * signed with `openssl ca`, which takes explicit start and end dates).
 */

import { EC, makeCa, openssl } from "./tls.ts";

/** PEM texts of one run's certificates. */
export interface TestCertificates extends AsyncDisposable {
  /** The CA that signed every server certificate. */
  readonly caPem: string;
  /** A CA that signed none of them. */
  readonly otherCaPem: string;
  /** Server certificate and key by kind. */
  readonly servers: Record<
    "good" | "wrongName" | "expired" | "future",
    { cert: string; key: string }
  >;
}

/** Makes the certificates; dispose to remove the folder. */
export async function makeTestCertificates(): Promise<TestCertificates> {
  const dir = await Deno.makeTempDir({ prefix: "kcm-tls-" });
  const [ca, other] = await Promise.all([
    makeCa(dir, "kcm"),
    makeCa(dir, "other"),
  ]);
  await Deno.mkdir(`${dir}/db`);
  await Deno.writeTextFile(`${dir}/db/index.txt`, "");
  await Deno.writeTextFile(`${dir}/db/serial`, "01\n");
  await Deno.writeTextFile(
    `${dir}/ca.cnf`,
    [
      "[ca]",
      "default_ca = c",
      "[c]",
      "database = db/index.txt",
      "serial = db/serial",
      "new_certs_dir = db",
      "default_md = sha256",
      "policy = p",
      "unique_subject = no",
      "[p]",
      "commonName = supplied",
      "[ip]",
      "basicConstraints = critical,CA:FALSE",
      "keyUsage = critical,digitalSignature",
      "extendedKeyUsage = serverAuth",
      "subjectAltName = IP:127.0.0.1",
      "[other]",
      "basicConstraints = critical,CA:FALSE",
      "keyUsage = critical,digitalSignature",
      "extendedKeyUsage = serverAuth",
      "subjectAltName = DNS:example.com",
      "",
    ].join("\n"),
  );
  const server = async (
    name: string,
    extensions: string,
    dates: string[],
  ) => {
    await openssl(dir, [
      "req",
      ...EC,
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      "/CN=server",
    ]);
    await openssl(dir, [
      "ca",
      "-batch",
      "-config",
      "ca.cnf",
      "-cert",
      ca.caFile,
      "-keyfile",
      ca.caKeyFile,
      "-in",
      `${name}.csr`,
      "-out",
      `${name}.crt`,
      "-extensions",
      extensions,
      ...dates,
    ]);
    return {
      cert: await Deno.readTextFile(`${dir}/${name}.crt`),
      key: await Deno.readTextFile(`${dir}/${name}.key`),
    };
  };
  // `openssl ca` appends to one database: one certificate at a time.
  const good = await server("good", "ip", ["-days", "1"]);
  const wrongName = await server("wrong", "other", ["-days", "1"]);
  const expired = await server("expired", "ip", [
    "-startdate",
    "20200101000000Z",
    "-enddate",
    "20200201000000Z",
  ]);
  const future = await server("future", "ip", [
    "-startdate",
    "20400101000000Z",
    "-enddate",
    "20400201000000Z",
  ]);
  return {
    caPem: ca.caPem,
    otherCaPem: other.caPem,
    servers: { good, wrongName, expired, future },
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}
