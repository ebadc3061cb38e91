/**
 * A small certificate authority for kcm's webhook: makes a self-signed CA
 * and issues TLS serving certificates from it, as PEM, with WebCrypto
 * (ECDSA P-256 with SHA-256) and the DER encoder of core/der.ts. The
 * certificates follow RFC 5280: version 3, a random positive 127-bit
 * serial, basicConstraints and keyUsage critical; serving certificates add
 * extendedKeyUsage serverAuth and the subjectAltName DNS names and IPv4
 * addresses a client checks. No Deno API; the randomness of the keys and
 * serials is WebCrypto's.
 *
 * Limits: CA keys must be P-256 ECDSA keys in PKCS #8 (what
 * {@linkcode createCertificateAuthority} writes); IP addresses in
 * subjectAltName are IPv4 only.
 */

import {
  bitString,
  boolean,
  type Bytes,
  children,
  explicit,
  implicitPrimitive,
  namedBits,
  objectIdentifier,
  octetString,
  readElement,
  sequence,
  set,
  smallInteger,
  time,
  unsignedInteger,
  utf8String,
} from "./der.ts";
import { quote } from "./quote.ts";

/** A certificate and its private key, both PEM. */
export interface CertificatePair {
  /** `-----BEGIN CERTIFICATE-----` */
  readonly certPem: string;
  /** `-----BEGIN PRIVATE KEY-----` (PKCS #8) */
  readonly keyPem: string;
}

/** What every certificate names. */
export interface CertificateOptions {
  /** The subject's common name. */
  readonly commonName: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** What a serving certificate is valid for. */
export interface ServingCertificateOptions extends CertificateOptions {
  /** DNS names (subjectAltName dNSName). */
  readonly dnsNames: readonly string[];
  /** IPv4 addresses (subjectAltName iPAddress); default none. */
  readonly ipAddresses?: readonly string[];
}

const EC_KEY = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGN = { name: "ECDSA", hash: "SHA-256" } as const;
const ECDSA_WITH_SHA256 = sequence(objectIdentifier("1.2.840.10045.4.3.2"));
const COMMON_NAME = "2.5.4.3";
const BASIC_CONSTRAINTS = "2.5.29.19";
const KEY_USAGE = "2.5.29.15";
const EXTENDED_KEY_USAGE = "2.5.29.37";
const SUBJECT_ALT_NAME = "2.5.29.17";
const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const SUBJECT_KEY_IDENTIFIER = "2.5.29.14";
const AUTHORITY_KEY_IDENTIFIER = "2.5.29.35";

/** KeyUsage bits (RFC 5280, 4.2.1.3). */
const DIGITAL_SIGNATURE = 0;
const KEY_CERT_SIGN = 5;
const CRL_SIGN = 6;

/** PEM armour of `der` with 64-character lines. */
export function toPem(label: string, der: Uint8Array): string {
  let binary = "";
  for (const byte of der) binary += String.fromCharCode(byte);
  const lines = btoa(binary).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${
    lines.join("\n")
  }\n-----END ${label}-----\n`;
}

/** The DER inside the first PEM block labelled `label`; throws a `SyntaxError` without one. */
export function fromPem(label: string, pem: string): Bytes {
  const match = new RegExp(
    `-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`,
  ).exec(pem);
  if (match === null) throw new SyntaxError(`No PEM block ${quote(label)}`);
  const binary = atob(match[1]!.replace(/\s+/g, ""));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function name(commonName: string): Bytes {
  return sequence(
    set(sequence(objectIdentifier(COMMON_NAME), utf8String(commonName))),
  );
}

function extension(oid: string, critical: boolean, value: Uint8Array) {
  return sequence(
    objectIdentifier(oid),
    ...(critical ? [boolean(true)] : []),
    octetString(value),
  );
}

function ipv4(address: string): Bytes {
  const parts = address.split(".");
  if (
    parts.length !== 4 ||
    parts.some((p) => !/^[0-9]{1,3}$/.test(p) || Number(p) > 255)
  ) {
    throw new RangeError(`Not an IPv4 address: ${quote(address)}`);
  }
  return new Uint8Array(parts.map(Number));
}

function serialNumber(): Bytes {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0]! & 0x7f) | 0x40; // positive, never short
  return unsignedInteger(bytes);
}

/** ECDSA's IEEE P1363 signature (r || s) as the DER Ecdsa-Sig-Value. */
function derSignature(raw: Bytes): Bytes {
  const half = raw.length / 2;
  return sequence(
    unsignedInteger(raw.subarray(0, half)),
    unsignedInteger(raw.subarray(half)),
  );
}

async function newKeyPair(): Promise<CryptoKeyPair> {
  return await crypto.subtle.generateKey(EC_KEY, true, ["sign", "verify"]);
}

async function keyPem(key: CryptoKey): Promise<string> {
  const der = new Uint8Array(await crypto.subtle.exportKey("pkcs8", key));
  return toPem("PRIVATE KEY", der);
}

/** Builds and signs one certificate. */
async function signCertificate(options: {
  issuer: Uint8Array;
  subject: Uint8Array;
  publicKey: CryptoKey;
  signingKey: CryptoKey;
  /** The issuer's key identifier; undefined: self-signed (its own). */
  issuerKeyId: Bytes | undefined;
  notBefore: Date;
  notAfter: Date;
  extensions: Uint8Array[];
}): Promise<string> {
  const spki = new Uint8Array(
    await crypto.subtle.exportKey("spki", options.publicKey),
  );
  const keyId = await keyIdentifier(spki, 0);
  const tbs = sequence(
    explicit(0, smallInteger(2)), // v3
    serialNumber(),
    ECDSA_WITH_SHA256,
    options.issuer,
    sequence(time(options.notBefore), time(options.notAfter)),
    options.subject,
    spki,
    explicit(
      3,
      sequence(
        ...options.extensions,
        extension(SUBJECT_KEY_IDENTIFIER, false, octetString(keyId)),
        extension(
          AUTHORITY_KEY_IDENTIFIER,
          false,
          sequence(implicitPrimitive(0, options.issuerKeyId ?? keyId)),
        ),
      ),
    ),
  );
  const raw = new Uint8Array(
    await crypto.subtle.sign(SIGN, options.signingKey, tbs),
  );
  return toPem(
    "CERTIFICATE",
    sequence(tbs, ECDSA_WITH_SHA256, bitString(derSignature(raw))),
  );
}

/**
 * Makes a self-signed CA: `CA:TRUE` with path length 0 (it signs serving
 * certificates only), keyUsage keyCertSign, cRLSign, digitalSignature.
 */
export async function createCertificateAuthority(
  options: CertificateOptions,
): Promise<CertificatePair> {
  const keys = await newKeyPair();
  const subject = name(options.commonName);
  const certPem = await signCertificate({
    issuer: subject,
    subject,
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    issuerKeyId: undefined,
    notBefore: options.notBefore,
    notAfter: options.notAfter,
    extensions: [
      extension(
        BASIC_CONSTRAINTS,
        true,
        sequence(boolean(true), smallInteger(0)),
      ),
      extension(
        KEY_USAGE,
        true,
        namedBits([DIGITAL_SIGNATURE, KEY_CERT_SIGN, CRL_SIGN]),
      ),
    ],
  });
  return { certPem, keyPem: await keyPem(keys.privateKey) };
}

/**
 * The key identifier of a SubjectPublicKeyInfo at `offset` of `der`: the
 * SHA-1 of its subjectPublicKey bits (RFC 5280, 4.2.1.2, method 1).
 */
async function keyIdentifier(der: Bytes, offset: number): Promise<Bytes> {
  const key = children(der, readElement(der, offset))[1];
  if (key === undefined) throw new SyntaxError("Public key info has no key");
  const bits = der.slice(key.start + 1, key.end); // after the unused-bits byte
  return new Uint8Array(await crypto.subtle.digest("SHA-1", bits));
}

/**
 * The subject Name of a PEM certificate, as DER (the issuer of what it
 * signs), and the identifier of its key.
 */
async function issuerOf(
  certPem: string,
): Promise<{ name: Bytes; keyId: Bytes }> {
  const der = fromPem("CERTIFICATE", certPem);
  const [tbs] = children(der, readElement(der, 0));
  // version [0], serial, signature, issuer, validity, subject, key info
  const fields = tbs === undefined ? [] : children(der, tbs);
  const subject = fields[5];
  const keyInfo = fields[6];
  if (subject === undefined || keyInfo === undefined) {
    throw new SyntaxError("Certificate has no subject or public key");
  }
  return {
    name: der.slice(subject.offset, subject.end),
    keyId: await keyIdentifier(der, keyInfo.offset),
  };
}

/**
 * Issues a TLS serving certificate signed by `ca`: `CA:FALSE`, keyUsage
 * digitalSignature, extendedKeyUsage serverAuth, subjectAltName of
 * `dnsNames` and `ipAddresses`. Throws a `RangeError` for an address that
 * is not IPv4, a `SyntaxError` (or WebCrypto's `DataError`) for a CA pair
 * it cannot read.
 */
export async function issueServingCertificate(
  ca: CertificatePair,
  options: ServingCertificateOptions,
): Promise<CertificatePair> {
  const signingKey = await crypto.subtle.importKey(
    "pkcs8",
    fromPem("PRIVATE KEY", ca.keyPem),
    EC_KEY,
    false,
    ["sign"],
  );
  const altNames = [
    ...options.dnsNames.map((dns) =>
      implicitPrimitive(2, new TextEncoder().encode(dns))
    ),
    ...(options.ipAddresses ?? []).map((ip) => implicitPrimitive(7, ipv4(ip))),
  ];
  const keys = await newKeyPair();
  const issuer = await issuerOf(ca.certPem);
  const certPem = await signCertificate({
    issuer: issuer.name,
    subject: name(options.commonName),
    publicKey: keys.publicKey,
    signingKey,
    issuerKeyId: issuer.keyId,
    notBefore: options.notBefore,
    notAfter: options.notAfter,
    extensions: [
      extension(BASIC_CONSTRAINTS, true, sequence()),
      extension(KEY_USAGE, true, namedBits([DIGITAL_SIGNATURE])),
      extension(
        EXTENDED_KEY_USAGE,
        false,
        sequence(objectIdentifier(SERVER_AUTH)),
      ),
      extension(SUBJECT_ALT_NAME, false, sequence(...altNames)),
    ],
  });
  return { certPem, keyPem: await keyPem(keys.privateKey) };
}
