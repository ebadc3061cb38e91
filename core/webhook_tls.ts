/**
 * The webhook's certificates as `cluster-init --webhook` keeps them: what
 * it finds in the cluster is checked and kept while it is good, and only
 * what is missing, unreadable, wrong or near its end is made anew.
 *
 * - The CA (ten years) signs the serving certificate; its key is kept in a
 *   Secret of its own that no pod mounts, so a serving certificate can be
 *   renewed without touching `caBundle`. It is renewed a year before it
 *   ends; the old CA stays in the bundle until it expires, so the API
 *   server trusts both while the webhook's pods pick up the new pair.
 * - The serving certificate (one year) names the Service's DNS names and
 *   is renewed 30 days before it ends, or at once when it does not verify
 *   against the CA, does not match its key or lacks one of the names.
 *
 * Reads certificates with `node:crypto`'s X509Certificate, makes them with
 * core/certificate_authority.ts. No other effect.
 */

import { createPrivateKey, X509Certificate } from "node:crypto";
import {
  type CertificatePair,
  createCertificateAuthority,
  issueServingCertificate,
} from "./certificate_authority.ts";

const DAY_MS = 86_400_000;
/** How long a new CA is valid. */
export const CA_LIFETIME_DAYS = 3650;
/** A CA with less left than this is replaced. */
export const CA_RENEW_DAYS = 365;
/** How long a new serving certificate is valid. */
export const SERVING_LIFETIME_DAYS = 365;
/** A serving certificate with less left than this is replaced. */
export const SERVING_RENEW_DAYS = 30;
/** New certificates start this much before now (clocks of nodes differ). */
const BACKDATE_MS = 3_600_000;

/** A certificate and key as found; either may be missing. */
export interface FoundPair {
  readonly certPem?: string | undefined;
  readonly keyPem?: string | undefined;
}

/** What the cluster holds now; any part may be missing. */
export interface FoundTls {
  readonly ca?: FoundPair | undefined;
  readonly serving?: FoundPair | undefined;
  /** The bundle last published (PEM certificates, the current CA first). */
  readonly caBundle?: string | undefined;
}

/** What the Secrets and `caBundle` should hold. */
export interface WebhookTls {
  readonly ca: CertificatePair;
  readonly serving: CertificatePair;
  /** The current CA, then older CAs not yet expired (PEM). */
  readonly caBundle: string;
}

/** {@linkcode planWebhookTls}'s answer. */
export interface TlsPlan {
  readonly tls: WebhookTls;
  /** Why the CA is new, when it is. */
  readonly caRenewed: string | undefined;
  /** Why the serving certificate is new, when it is. */
  readonly servingRenewed: string | undefined;
}

/** Options of {@linkcode planWebhookTls}. */
export interface PlanTlsOptions {
  /** The names the serving certificate must carry, the first as its CN. */
  readonly dnsNames: readonly string[];
  /** IPv4 addresses it must carry too (tests); default none. */
  readonly ipAddresses?: readonly string[];
  readonly now: Date;
}

function parse(pem: string | undefined): X509Certificate | undefined {
  if (pem === undefined || pem.trim() === "") return undefined;
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

function keyMatches(cert: X509Certificate, keyPem: string | undefined) {
  if (keyPem === undefined) return false;
  try {
    return cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** Why `found` cannot stay the CA, or undefined when it can. */
function caProblem(
  found: FoundPair | undefined,
  now: Date,
): string | undefined {
  if (found?.certPem === undefined) return "there was none";
  const cert = parse(found.certPem);
  if (cert === undefined) return "the stored one cannot be read";
  if (!cert.ca) return "the stored one is not a CA";
  if (!keyMatches(cert, found.keyPem)) {
    return "the stored key does not belong to it";
  }
  const end = cert.validToDate;
  if (end.getTime() - now.getTime() < CA_RENEW_DAYS * DAY_MS) {
    return `the stored one ends on ${day(end)}`;
  }
  if (cert.validFromDate.getTime() > now.getTime()) {
    return `the stored one starts only on ${day(cert.validFromDate)}`;
  }
  return undefined;
}

/** Why `found` cannot stay the serving certificate, or undefined. */
function servingProblem(
  found: FoundPair | undefined,
  ca: CertificatePair,
  options: PlanTlsOptions,
): string | undefined {
  if (found?.certPem === undefined) return "there was none";
  const cert = parse(found.certPem);
  if (cert === undefined) return "the stored one cannot be read";
  const issuer = parse(ca.certPem)!;
  if (!cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) {
    return "the stored one is not signed by the current CA";
  }
  if (!keyMatches(cert, found.keyPem)) {
    return "the stored key does not belong to it";
  }
  for (const name of options.dnsNames) {
    if (cert.checkHost(name, { wildcards: false }) !== name) {
      return `the stored one does not name ${name}`;
    }
  }
  for (const ip of options.ipAddresses ?? []) {
    if (cert.checkIP(ip) !== ip) {
      return `the stored one does not name ${ip}`;
    }
  }
  const end = cert.validToDate;
  if (end.getTime() - options.now.getTime() < SERVING_RENEW_DAYS * DAY_MS) {
    return `the stored one ends on ${day(end)}`;
  }
  if (cert.validFromDate.getTime() > options.now.getTime()) {
    return `the stored one starts only on ${day(cert.validFromDate)}`;
  }
  return undefined;
}

/** The PEM certificates of `bundle`, in order. */
export function splitPem(bundle: string | undefined): string[] {
  return (bundle ?? "").match(
    /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g,
  )?.map((pem) => `${pem}\n`) ?? [];
}

/** The current CA first, then the other CAs of `previous` not yet expired. */
function bundle(ca: string, previous: string | undefined, now: Date): string {
  const seen = new Set([parse(ca)!.fingerprint256]);
  const older = splitPem(previous).filter((pem) => {
    const cert = parse(pem);
    if (cert === undefined || seen.has(cert.fingerprint256)) return false;
    seen.add(cert.fingerprint256);
    return cert.ca && cert.validToDate.getTime() > now.getTime();
  });
  return [ca, ...older].join("");
}

/**
 * Decides the webhook's CA, serving certificate and bundle from what the
 * cluster holds (see the module comment), making what must be new.
 */
export async function planWebhookTls(
  found: FoundTls,
  options: PlanTlsOptions,
): Promise<TlsPlan> {
  const { now } = options;
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  const caRenewed = caProblem(found.ca, now);
  const ca = caRenewed === undefined
    ? { certPem: found.ca!.certPem!, keyPem: found.ca!.keyPem! }
    : await createCertificateAuthority({
      commonName: `kcm-webhook-ca@${Math.floor(now.getTime() / 1000)}`,
      notBefore,
      notAfter: new Date(now.getTime() + CA_LIFETIME_DAYS * DAY_MS),
    });
  const servingRenewed = caRenewed === undefined
    ? servingProblem(found.serving, ca, options)
    : "the CA is new";
  const serving = servingRenewed === undefined
    ? {
      certPem: found.serving!.certPem!,
      keyPem: found.serving!.keyPem!,
    }
    : await issueServingCertificate(ca, {
      commonName: options.dnsNames[0] ?? "kcm-webhook",
      dnsNames: options.dnsNames,
      ...(options.ipAddresses ? { ipAddresses: options.ipAddresses } : {}),
      notBefore,
      notAfter: new Date(now.getTime() + SERVING_LIFETIME_DAYS * DAY_MS),
    });
  return {
    tls: {
      ca,
      serving,
      caBundle: bundle(
        ca.certPem,
        `${found.caBundle ?? ""}\n${found.ca?.certPem ?? ""}`,
        now,
      ),
    },
    caRenewed,
    servingRenewed,
  };
}
