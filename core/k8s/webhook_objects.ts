/**
 * The objects that run kcm's admission webhook in a namespace: its two
 * Secrets, Service, Deployment, PodDisruptionBudget and
 * MutatingWebhookConfiguration. `resources/kcm-webhook.yaml` is these with
 * the defaults (tests/resources_test.ts checks it), and `cluster-init
 * --webhook` applies them. Pure data.
 */

import { KCM_BINARY } from "./workloads.ts";

// deno-lint-ignore no-explicit-any -- API objects are plain JSON
type Dict = Record<string, any>;

/** The name of the Service, Deployment, PDB and configuration. */
export const WEBHOOK_NAME = "kcm-webhook";
/** The Secret the webhook's pods mount: tls.crt, tls.key, ca.crt. */
export const WEBHOOK_TLS_SECRET = "kcm-webhook-tls";
/** The Secret of the CA that signs it (tls.crt, tls.key); no pod mounts it. */
export const WEBHOOK_CA_SECRET = "kcm-webhook-ca";
/** The name of the webhook inside the configuration. */
export const WEBHOOK_ENTRY = "pods.kcm.intel.com";
/** The port the container listens on. */
export const WEBHOOK_PORT = 8443;
const TLS_MOUNT = "/etc/kcm-webhook/tls";

/** What the webhook objects depend on. */
export interface WebhookObjectSettings {
  readonly namespace: string;
  readonly image: string;
  readonly pullPolicy: string;
  /** The nodes' config directory, mounted into wrapped pods. */
  readonly confDir: string;
  /** Where kcm is installed on the nodes. */
  readonly installDir: string;
  /** Base64 of the PEM CA bundle; left out when undefined. */
  readonly caBundle: string | undefined;
}

/** The DNS names the API server may call the Service by. */
export function webhookDnsNames(namespace: string): string[] {
  return [
    `${WEBHOOK_NAME}.${namespace}.svc`,
    `${WEBHOOK_NAME}.${namespace}.svc.cluster.local`,
  ];
}

function labels(): Dict {
  return {
    "app.kubernetes.io/name": "kcm",
    "app.kubernetes.io/component": "webhook",
  };
}

function service(settings: WebhookObjectSettings): Dict {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: WEBHOOK_NAME,
      namespace: settings.namespace,
      labels: labels(),
    },
    spec: {
      selector: labels(),
      ports: [{
        name: "https",
        port: 443,
        targetPort: "https",
        protocol: "TCP",
      }],
    },
  };
}

function probe(periodSeconds: number, failureThreshold: number): Dict {
  return {
    httpGet: { path: "/healthz", port: "https", scheme: "HTTPS" },
    periodSeconds,
    failureThreshold,
  };
}

function deployment(settings: WebhookObjectSettings): Dict {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: WEBHOOK_NAME,
      namespace: settings.namespace,
      labels: labels(),
    },
    spec: {
      replicas: 2,
      selector: { matchLabels: labels() },
      // A rollout never takes the last answering replica away.
      strategy: {
        type: "RollingUpdate",
        rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
      },
      template: {
        metadata: { labels: labels() },
        spec: {
          // With failurePolicy Fail, pods asking for cores wait on it.
          priorityClassName: "system-cluster-critical",
          // The webhook never calls the API server.
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            runAsGroup: 65532,
            fsGroup: 65532,
            seccompProfile: { type: "RuntimeDefault" },
          },
          topologySpreadConstraints: [{
            maxSkew: 1,
            topologyKey: "kubernetes.io/hostname",
            whenUnsatisfiable: "ScheduleAnyway",
            labelSelector: { matchLabels: labels() },
          }],
          // Longer than the webhook's own drain (20 s) after SIGTERM.
          terminationGracePeriodSeconds: 30,
          containers: [{
            name: "webhook",
            image: settings.image,
            imagePullPolicy: settings.pullPolicy,
            command: [
              KCM_BINARY,
              "webhook",
              `--conf-dir=${settings.confDir}`,
              `--install-dir=${settings.installDir}`,
              `--tls-cert=${TLS_MOUNT}/tls.crt`,
              `--tls-key=${TLS_MOUNT}/tls.key`,
              `--listen=0.0.0.0:${WEBHOOK_PORT}`,
            ],
            ports: [{
              name: "https",
              containerPort: WEBHOOK_PORT,
              protocol: "TCP",
            }],
            readinessProbe: probe(5, 2),
            livenessProbe: probe(10, 3),
            resources: {
              requests: { cpu: "50m", memory: "96Mi" },
              limits: { memory: "256Mi" },
            },
            securityContext: {
              allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true,
              capabilities: { drop: ["ALL"] },
            },
            volumeMounts: [
              { name: "tls", mountPath: TLS_MOUNT, readOnly: true },
              { name: "tmp", mountPath: "/tmp" },
            ],
            terminationMessagePolicy: "FallbackToLogsOnError",
          }],
          volumes: [
            // Updated in place by the kubelet when the Secret changes; the
            // webhook re-reads the files every 10 s and serves the new pair.
            {
              name: "tls",
              secret: { secretName: WEBHOOK_TLS_SECRET, defaultMode: 0o440 },
            },
            {
              name: "tmp",
              emptyDir: { medium: "Memory", sizeLimit: "16Mi" },
            },
          ],
        },
      },
    },
  };
}

function disruptionBudget(settings: WebhookObjectSettings): Dict {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: {
      name: WEBHOOK_NAME,
      namespace: settings.namespace,
      labels: labels(),
    },
    spec: { minAvailable: 1, selector: { matchLabels: labels() } },
  };
}

/** Only pods whose containers ask for dataplane cores are sent. */
const ASKS_FOR_CORES = [
  "object.spec.containers.exists(c, has(c.resources) &&",
  "((has(c.resources.requests) &&",
  "'kcm.intel.com/dataplane-cores' in c.resources.requests) ||",
  "(has(c.resources.limits) &&",
  "'kcm.intel.com/dataplane-cores' in c.resources.limits)))",
].join(" ");

function configuration(settings: WebhookObjectSettings): Dict {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name: WEBHOOK_NAME, labels: labels() },
    webhooks: [{
      name: WEBHOOK_ENTRY,
      admissionReviewVersions: ["v1"],
      sideEffects: "None",
      failurePolicy: "Fail",
      reinvocationPolicy: "IfNeeded",
      timeoutSeconds: 5,
      matchPolicy: "Equivalent",
      clientConfig: {
        service: {
          name: WEBHOOK_NAME,
          namespace: settings.namespace,
          path: "/mutate",
          port: 443,
        },
        ...(settings.caBundle === undefined
          ? {}
          : { caBundle: settings.caBundle }),
      },
      rules: [{
        operations: ["CREATE"],
        apiGroups: [""],
        apiVersions: ["v1"],
        resources: ["pods"],
        scope: "Namespaced",
      }],
      // Never kcm's own namespace (its pods must start while the webhook
      // is down) nor kube-system.
      namespaceSelector: {
        matchExpressions: [{
          key: "kubernetes.io/metadata.name",
          operator: "NotIn",
          values: [settings.namespace, "kube-system"],
        }],
      },
      // Pods labelled kcm.intel.com/webhook=skip are not sent either.
      objectSelector: {
        matchExpressions: [{
          key: "kcm.intel.com/webhook",
          operator: "NotIn",
          values: ["skip"],
        }],
      },
      matchConditions: [{
        name: "asks-for-dataplane-cores",
        expression: ASKS_FOR_CORES,
      }],
    }],
  };
}

/**
 * The Service, Deployment, PodDisruptionBudget and configuration, in the
 * order to apply them (the configuration last: it points at the rest).
 */
export function webhookManifest(settings: WebhookObjectSettings): Dict[] {
  return [
    service(settings),
    deployment(settings),
    disruptionBudget(settings),
    configuration(settings),
  ];
}

/** A `kubernetes.io/tls` Secret; `ca.crt` only when `caPem` is given. */
export function tlsSecret(
  namespace: string,
  name: string,
  pair: { readonly certPem: string; readonly keyPem: string },
  caPem?: string,
): Dict {
  const base64 = (text: string) => {
    let binary = "";
    for (const byte of new TextEncoder().encode(text)) {
      binary += String.fromCharCode(byte);
    }
    return btoa(binary);
  };
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace, labels: labels() },
    type: "kubernetes.io/tls",
    data: {
      "tls.crt": base64(pair.certPem),
      "tls.key": base64(pair.keyPem),
      ...(caPem === undefined ? {} : { "ca.crt": base64(caPem) }),
    },
  };
}
