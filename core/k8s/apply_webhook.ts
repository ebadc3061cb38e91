/**
 * `cluster-init --webhook`: deploy kcm's admission webhook in a namespace,
 * rerunnable. Reads the webhook's two Secrets, keeps the CA and serving
 * certificate while they are good or makes what must be new
 * (core/webhook_tls.ts), then converges the Secrets, Service, Deployment,
 * PodDisruptionBudget and MutatingWebhookConfiguration (with the CA bundle
 * as `caBundle`) by server-side apply, field manager `kcm`, the
 * configuration last. A rerun on a cluster that has it all changes nothing:
 * every object keeps its resourceVersion. As with the DaemonSet, an
 * existing Deployment keeps its image, pull policy and directories unless
 * this run's flags give them, so a rerun with defaults never switches a
 * running webhook (whose `failurePolicy` is `Fail`) to another image.
 *
 * Side effects: GET of each object, then one apply PATCH each; one INFO
 * line per object (created, updated with the changed fields, unchanged),
 * never a Secret's contents.
 */

import type { Logger } from "../log.ts";
import { type FoundTls, planWebhookTls, type TlsPlan } from "../webhook_tls.ts";
import { FIELD_MANAGER, type GivenSettings } from "./apply_daemon_set.ts";
import type { K8sClient } from "./client.ts";
import { isStatus } from "./errors.ts";
import { diffObjects } from "./object_diff.ts";
import {
  tlsSecret,
  WEBHOOK_CA_SECRET,
  WEBHOOK_NAME,
  WEBHOOK_TLS_SECRET,
  webhookDnsNames,
  webhookManifest,
  type WebhookObjectSettings,
} from "./webhook_objects.ts";

// deno-lint-ignore no-explicit-any -- API objects are read field by field
type ApiObject = any;

/** Options of {@linkcode applyWebhook}. */
export interface ApplyWebhookOptions {
  /** Everything but the CA bundle, which is decided here. */
  readonly settings: Omit<WebhookObjectSettings, "caBundle">;
  /** Which settings the flags gave; the others an existing webhook keeps. */
  readonly given: GivenSettings;
  readonly now: Date;
  readonly log: Logger;
  /** IPv4 addresses the serving certificate must name too (tests). */
  readonly ipAddresses?: readonly string[];
}

/** What happened to one object. */
export interface AppliedObject {
  /** `Secret kcm-system/kcm-webhook-tls` */
  readonly description: string;
  readonly action: "created" | "updated" | "unchanged";
}

/** What {@linkcode applyWebhook} did. */
export interface ApplyWebhookResult {
  readonly objects: readonly AppliedObject[];
  readonly tls: TlsPlan;
}

/** The API path of `object` (core, apps, policy or admissionregistration). */
function objectPath(object: ApiObject): string {
  const [group, version] = object.apiVersion.includes("/")
    ? object.apiVersion.split("/")
    : ["", object.apiVersion];
  const base = group === "" ? `/api/${version}` : `/apis/${group}/${version}`;
  const plural = `${object.kind.toLowerCase()}s`; // true of these kinds
  const namespaced = object.metadata.namespace === undefined
    ? ""
    : `/namespaces/${encodeURIComponent(object.metadata.namespace)}`;
  return `${base}${namespaced}/${plural}/${
    encodeURIComponent(object.metadata.name)
  }`;
}

function describe(object: ApiObject): string {
  const { namespace, name } = object.metadata;
  return `${object.kind} ${
    namespace === undefined ? "" : `${namespace}/`
  }${name}`;
}

async function getOptional(
  client: K8sClient,
  path: string,
): Promise<ApiObject | undefined> {
  try {
    return await client.request("GET", path);
  } catch (error) {
    if (isStatus(error, 404)) return undefined;
    throw error;
  }
}

function decode(data: Record<string, string> | undefined, key: string) {
  const value = data?.[key];
  if (typeof value !== "string") return undefined;
  try {
    const binary = atob(value);
    return new TextDecoder().decode(
      Uint8Array.from(binary, (c) => c.charCodeAt(0)),
    );
  } catch {
    return undefined;
  }
}

/** The settings an existing webhook Deployment runs with, where readable. */
export function readWebhookSettings(
  deployment: ApiObject,
): Partial<Omit<WebhookObjectSettings, "namespace" | "caBundle">> {
  const container = deployment?.spec?.template?.spec?.containers?.find(
    (c: ApiObject) => c?.name === "webhook",
  );
  if (container === undefined) return {};
  const command: unknown[] = Array.isArray(container.command)
    ? container.command
    : [];
  const flag = (name: string) => {
    const found = command.find((word): word is string =>
      typeof word === "string" && word.startsWith(`--${name}=`)
    );
    return found?.slice(name.length + 3);
  };
  const found = {
    image: container.image,
    pullPolicy: container.imagePullPolicy,
    confDir: flag("conf-dir"),
    installDir: flag("install-dir"),
  };
  return Object.fromEntries(
    Object.entries(found).filter(([, v]) => typeof v === "string" && v !== ""),
  );
}

/** The parts of an object a change is reported in (never Secret data). */
function content(object: ApiObject): unknown {
  if (object?.kind === "Secret") return undefined;
  return object?.spec ?? object?.webhooks;
}

/**
 * Deploys or converges the webhook (see the module comment). Throws the
 * client's `K8sApiError` when a request fails; objects applied before it
 * stay (a rerun finishes the work).
 */
export async function applyWebhook(
  client: K8sClient,
  options: ApplyWebhookOptions,
): Promise<ApplyWebhookResult> {
  const { log } = options;
  const { namespace } = options.settings;
  const secretPath = (name: string) =>
    `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${name}`;
  const caSecret = await getOptional(client, secretPath(WEBHOOK_CA_SECRET));
  const tlsSecretFound = await getOptional(
    client,
    secretPath(WEBHOOK_TLS_SECRET),
  );
  const found: FoundTls = {
    ca: {
      certPem: decode(caSecret?.data, "tls.crt"),
      keyPem: decode(caSecret?.data, "tls.key"),
    },
    serving: {
      certPem: decode(tlsSecretFound?.data, "tls.crt"),
      keyPem: decode(tlsSecretFound?.data, "tls.key"),
    },
    caBundle: decode(tlsSecretFound?.data, "ca.crt"),
  };
  const plan = await planWebhookTls(found, {
    dnsNames: webhookDnsNames(namespace),
    ...(options.ipAddresses ? { ipAddresses: options.ipAddresses } : {}),
    now: options.now,
  });
  if (plan.caRenewed !== undefined) {
    log.info(`Webhook: new CA, as ${plan.caRenewed}`);
  }
  if (plan.servingRenewed !== undefined) {
    log.info(`Webhook: new serving certificate, as ${plan.servingRenewed}`);
  }
  const { tls } = plan;
  const existing = readWebhookSettings(
    await getOptional(
      client,
      `/apis/apps/v1/namespaces/${
        encodeURIComponent(namespace)
      }/deployments/${WEBHOOK_NAME}`,
    ),
  );
  const settings = { ...options.settings };
  for (const key of ["image", "pullPolicy", "confDir", "installDir"] as const) {
    const kept = existing[key];
    if (!options.given[key] && kept !== undefined) settings[key] = kept;
  }
  const objects = [
    tlsSecret(namespace, WEBHOOK_CA_SECRET, tls.ca),
    tlsSecret(namespace, WEBHOOK_TLS_SECRET, tls.serving, tls.caBundle),
    ...webhookManifest({ ...settings, caBundle: btoa(tls.caBundle) }),
  ];
  const results: AppliedObject[] = [];
  for (const object of objects) {
    const path = objectPath(object);
    const description = describe(object);
    const current = object.kind === "Secret"
      ? (object.metadata.name === WEBHOOK_CA_SECRET ? caSecret : tlsSecretFound)
      : await getOptional(client, path);
    const applied: ApiObject = await client.request("PATCH", path, {
      body: object,
      contentType: "application/apply-patch+yaml",
      query: { fieldManager: FIELD_MANAGER, force: true },
    });
    let action: AppliedObject["action"];
    if (current === undefined) {
      action = "created";
      log.info(`${description} created`);
    } else if (
      current.metadata?.resourceVersion === applied?.metadata?.resourceVersion
    ) {
      action = "unchanged";
      log.info(`${description} unchanged`);
    } else {
      action = "updated";
      const changes = diffObjects(content(current), content(applied));
      log.info(
        `${description} updated${
          changes.length === 0 ? "" : `: ${changes.join("; ")}`
        }`,
      );
    }
    results.push({ description, action });
  }
  return { objects: results, tls: plan };
}
