/**
 * Per-test certificate authorities and serving certificates, made with
 * openssl (EC P-256, valid two days), for servers on 127.0.0.1.
 */

import { join } from "node:path";

const decoder = new TextDecoder();

/** Runs `openssl args...` in `cwd`; throws with its stderr when it fails. */
export async function openssl(cwd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `openssl ${args.join(" ")} failed: ${decoder.decode(out.stderr).trim()}`,
    );
  }
}

/** openssl arguments for a new EC P-256 key. */
export const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

/** A CA that can sign serving certificates. */
export interface TestCa {
  readonly dir: string;
  readonly caFile: string;
  readonly caKeyFile: string;
  readonly caPem: string;
  /**
   * Issues a serving certificate for `sans` (default 127.0.0.1 and
   * localhost) into `<dir>/<name>.crt` and `<dir>/<name>.key`.
   */
  issue(
    name: string,
    sans?: string,
  ): Promise<{ certFile: string; keyFile: string; certPem: string }>;
}

/** Makes a CA named `name` in `dir` (which must exist). */
export async function makeCa(dir: string, name: string): Promise<TestCa> {
  const caKey = `${name}-ca.key`;
  const caCrt = `${name}-ca.crt`;
  await openssl(dir, [
    "req",
    "-x509",
    ...EC,
    "-nodes",
    "-keyout",
    caKey,
    "-out",
    caCrt,
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  const caFile = join(dir, caCrt);
  return {
    dir,
    caFile,
    caKeyFile: join(dir, caKey),
    caPem: await Deno.readTextFile(caFile),
    async issue(leaf, sans = "IP:127.0.0.1,DNS:localhost") {
      await Deno.writeTextFile(
        join(dir, `${leaf}.ext`),
        [
          "basicConstraints=critical,CA:FALSE",
          "keyUsage=critical,digitalSignature,keyEncipherment",
          "extendedKeyUsage=serverAuth",
          `subjectAltName=${sans}`,
          "",
        ].join("\n"),
      );
      await openssl(dir, [
        "req",
        ...EC,
        "-nodes",
        "-keyout",
        `${leaf}.key`,
        "-out",
        `${leaf}.csr`,
        "-subj",
        `/CN=${leaf}`,
      ]);
      await openssl(dir, [
        "x509",
        "-req",
        "-in",
        `${leaf}.csr`,
        "-CA",
        caCrt,
        "-CAkey",
        caKey,
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        `${leaf}.crt`,
        "-extfile",
        `${leaf}.ext`,
      ]);
      const certFile = join(dir, `${leaf}.crt`);
      return {
        certFile,
        keyFile: join(dir, `${leaf}.key`),
        certPem: await Deno.readTextFile(certFile),
      };
    },
  };
}

/** The PEM certificate a TLS server on `port` presents (first of its chain). */
export async function peerCertificate(
  port: number,
  hostname = "127.0.0.1",
): Promise<string> {
  const out = await new Deno.Command("openssl", {
    args: [
      "s_client",
      "-connect",
      `${hostname}:${port}`,
      "-servername",
      "localhost",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = decoder.decode(out.stdout);
  const match = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/
    .exec(text);
  if (match === null) {
    throw new Error(
      `no certificate from ${hostname}:${port}: ${decoder.decode(out.stderr)}`,
    );
  }
  return match[0];
}
