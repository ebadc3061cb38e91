/**
 * The parts of a Pod (core/v1) the webhook reads, checked once when the
 * AdmissionReview is read so the mutation can trust their types. Fields the
 * webhook does not read are not looked at; a field of the wrong type that it
 * does read makes the pod unreadable ({@linkcode PodShapeError}). Pure.
 *
 * Reference: the Pod and Container types of the Kubernetes API
 * (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/).
 */

/** An environment variable entry; only `name` and `value` are read. */
export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  /** True when the entry takes its value from elsewhere (`valueFrom`). */
  readonly hasValueFrom: boolean;
}

/** A container's volume mount; only `name` and `mountPath` are read. */
export interface VolumeMount {
  readonly name: string;
  readonly mountPath: string;
}

/** What the webhook reads of a container. */
export interface Container {
  readonly name: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly env?: readonly EnvVar[];
  readonly volumeMounts?: readonly VolumeMount[];
  /** `resources.requests`, values as JSON held them. */
  readonly requests?: Readonly<Record<string, unknown>>;
  /** `resources.limits`, values as JSON held them. */
  readonly limits?: Readonly<Record<string, unknown>>;
}

/** A pod volume; only `name` and `hostPath.path` are read. */
export interface Volume {
  readonly name: string;
  readonly hostPath?: string;
}

/** A toleration; only its matching fields are read. */
export interface Toleration {
  readonly key?: string;
  readonly operator?: string;
  readonly value?: string;
  readonly effect?: string;
}

/** What the webhook reads of a Pod. */
export interface Pod {
  /** `metadata` is present (an object). */
  readonly hasMetadata: boolean;
  readonly name?: string;
  readonly generateName?: string;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly containers: readonly Container[];
  readonly volumes?: readonly Volume[];
  readonly tolerations?: readonly Toleration[];
  readonly nodeSelector?: Readonly<Record<string, string>>;
}

/** A pod field of an unexpected type; `path` names it (`spec.containers[0].command`). */
export class PodShapeError extends TypeError {
  /** The field, as a dotted path from the pod. */
  readonly path: string;
  /** What it should have been (`"a list of strings"`). */
  readonly expected: string;

  constructor(path: string, expected: string) {
    super(`${path} must be ${expected}`);
    this.name = "PodShapeError";
    this.path = path;
    this.expected = expected;
  }
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function field(object: Json, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

function optionalObject(parent: Json, key: string, path: string) {
  const value = field(parent, key);
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw new PodShapeError(path, "an object");
  return value;
}

function optionalString(parent: Json, key: string, path: string) {
  const value = field(parent, key);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new PodShapeError(path, "a string");
  return value;
}

function requiredString(parent: Json, key: string, path: string): string {
  const value = field(parent, key);
  if (typeof value !== "string") throw new PodShapeError(path, "a string");
  return value;
}

function optionalList(parent: Json, key: string, path: string) {
  const value = field(parent, key);
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new PodShapeError(path, "a list");
  return value as unknown[];
}

function objectsOf(list: unknown[], path: string): Json[] {
  return list.map((item, i) => {
    if (!isObject(item)) throw new PodShapeError(`${path}[${i}]`, "an object");
    return item;
  });
}

function stringList(parent: Json, key: string, path: string) {
  const list = field(parent, key);
  if (list === undefined || list === null) return undefined;
  if (!Array.isArray(list) || !list.every((s) => typeof s === "string")) {
    throw new PodShapeError(path, "a list of strings");
  }
  return list as string[];
}

function stringMap(parent: Json, key: string, path: string) {
  const map = optionalObject(parent, key, path);
  if (map === undefined) return undefined;
  for (const [k, v] of Object.entries(map)) {
    if (typeof v !== "string") {
      throw new PodShapeError(`${path}[${JSON.stringify(k)}]`, "a string");
    }
  }
  return map as Record<string, string>;
}

function readContainer(item: Json, path: string): Container {
  const resources = optionalObject(item, "resources", `${path}.resources`);
  const env = optionalList(item, "env", `${path}.env`);
  const mounts = optionalList(item, "volumeMounts", `${path}.volumeMounts`);
  const container: {
    -readonly [K in keyof Container]: Container[K];
  } = { name: requiredString(item, "name", `${path}.name`) };
  const command = stringList(item, "command", `${path}.command`);
  if (command !== undefined) container.command = command;
  const args = stringList(item, "args", `${path}.args`);
  if (args !== undefined) container.args = args;
  if (env !== undefined) {
    container.env = objectsOf(env, `${path}.env`).map((e, i) => {
      const at = `${path}.env[${i}]`;
      const value = optionalString(e, "value", `${at}.value`);
      const entry: EnvVar = {
        name: requiredString(e, "name", `${at}.name`),
        hasValueFrom: field(e, "valueFrom") !== undefined &&
          field(e, "valueFrom") !== null,
      };
      return value === undefined ? entry : { ...entry, value };
    });
  }
  if (mounts !== undefined) {
    container.volumeMounts = objectsOf(mounts, `${path}.volumeMounts`).map((
      m,
      i,
    ) => ({
      name: requiredString(m, "name", `${path}.volumeMounts[${i}].name`),
      mountPath: requiredString(
        m,
        "mountPath",
        `${path}.volumeMounts[${i}].mountPath`,
      ),
    }));
  }
  if (resources !== undefined) {
    const requests = optionalObject(
      resources,
      "requests",
      `${path}.resources.requests`,
    );
    const limits = optionalObject(
      resources,
      "limits",
      `${path}.resources.limits`,
    );
    if (requests !== undefined) container.requests = requests;
    if (limits !== undefined) container.limits = limits;
  }
  return container;
}

/**
 * Reads a Pod object (as JSON parsed it). Throws {@linkcode PodShapeError}
 * naming the first field that has the wrong type.
 *
 * @example
 * ```ts
 * import { readPod } from "./pod.ts";
 * import assert from "node:assert/strict";
 * const pod = readPod({
 *   metadata: { name: "p" },
 *   spec: { containers: [{ name: "c", command: ["/app"] }] },
 * });
 * assert.deepEqual(pod.containers[0]!.command, ["/app"]);
 * assert.throws(
 *   () => readPod({ spec: { containers: [{ name: "c", command: "/app" }] } }),
 *   /spec\.containers\[0\]\.command must be a list of strings/,
 * );
 * ```
 */
export function readPod(value: unknown): Pod {
  if (!isObject(value)) throw new PodShapeError("the pod", "an object");
  const metadata = optionalObject(value, "metadata", "metadata");
  const spec = optionalObject(value, "spec", "spec");
  if (spec === undefined) throw new PodShapeError("spec", "an object");
  const containers = optionalList(spec, "containers", "spec.containers");
  if (containers === undefined) {
    throw new PodShapeError("spec.containers", "a list");
  }
  const pod: { -readonly [K in keyof Pod]: Pod[K] } = {
    hasMetadata: metadata !== undefined,
    containers: objectsOf(containers, "spec.containers").map((c, i) =>
      readContainer(c, `spec.containers[${i}]`)
    ),
  };
  if (metadata !== undefined) {
    const name = optionalString(metadata, "name", "metadata.name");
    if (name !== undefined) pod.name = name;
    const generateName = optionalString(
      metadata,
      "generateName",
      "metadata.generateName",
    );
    if (generateName !== undefined) pod.generateName = generateName;
    const annotations = stringMap(
      metadata,
      "annotations",
      "metadata.annotations",
    );
    if (annotations !== undefined) pod.annotations = annotations;
  }
  const volumes = optionalList(spec, "volumes", "spec.volumes");
  if (volumes !== undefined) {
    pod.volumes = objectsOf(volumes, "spec.volumes").map((v, i) => {
      const at = `spec.volumes[${i}]`;
      const name = requiredString(v, "name", `${at}.name`);
      const hostPath = optionalObject(v, "hostPath", `${at}.hostPath`);
      return hostPath === undefined ? { name } : {
        name,
        hostPath: requiredString(hostPath, "path", `${at}.hostPath.path`),
      };
    });
  }
  const tolerations = optionalList(spec, "tolerations", "spec.tolerations");
  if (tolerations !== undefined) {
    pod.tolerations = objectsOf(tolerations, "spec.tolerations").map((t, i) => {
      const at = `spec.tolerations[${i}]`;
      const toleration: { -readonly [K in keyof Toleration]: Toleration[K] } =
        {};
      for (const key of ["key", "operator", "value", "effect"] as const) {
        const text = optionalString(t, key, `${at}.${key}`);
        if (text !== undefined) toleration[key] = text;
      }
      return toleration;
    });
  }
  const nodeSelector = stringMap(spec, "nodeSelector", "spec.nodeSelector");
  if (nodeSelector !== undefined) pod.nodeSelector = nodeSelector;
  return pod;
}
