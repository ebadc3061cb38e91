/**
 * fast-check arbitraries for the webhook's fuzz tests: pods of every shape
 * the mutation cares about (cores valid and not, commands present and not,
 * clashing volume names, taken mount paths, KCM_* env, tolerations,
 * selectors, annotations, init containers), and damaged request bodies.
 */

import fc from "fast-check";
import { type Json, pod, review } from "./admission.ts";

const QUANTITIES = ["1", "2", "3", "2000m", "1k", "0", "1.5", "-1", "x", ""];

const quantity: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...QUANTITIES) },
  { weight: 1, arbitrary: fc.integer({ min: -2, max: 5000 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);

const resources: fc.Arbitrary<Json | undefined> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  {
    weight: 4,
    arbitrary: fc.constantFrom("1", "2", "3").map((n) => ({
      requests: { "kcm.intel.com/dataplane-cores": n, cpu: "1" },
      limits: { "kcm.intel.com/dataplane-cores": n },
    })),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      requests: fc.option(
        fc.dictionary(
          fc.constantFrom("kcm.intel.com/dataplane-cores", "cpu"),
          quantity,
        ),
        { nil: undefined },
      ),
      limits: fc.option(
        fc.dictionary(
          fc.constantFrom("kcm.intel.com/dataplane-cores", "memory"),
          quantity,
        ),
        { nil: undefined },
      ),
    }, { requiredKeys: [] }),
  },
);

const word = fc.constantFrom(
  "/bin/sh",
  "-c",
  "/opt/bin/kcm",
  "isolate",
  "-x",
  "-",
  "--",
  "echo $(A)",
  "ü/~",
  "/usr/bin/fwd",
);

const command: fc.Arbitrary<string[] | undefined> = fc.oneof(
  { weight: 20, arbitrary: fc.array(word, { minLength: 1, maxLength: 4 }) },
  { weight: 1, arbitrary: fc.constant<string[]>([]) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

const envEntry: fc.Arbitrary<Json> = fc.record({
  name: fc.constantFrom("KCM_NUM_CORES", "KCM_PROC_FS", "KCM_LOG_LEVEL", "A"),
  value: fc.option(fc.constantFrom("1", "/host/proc", "/proc", ""), {
    nil: undefined,
  }),
  valueFrom: fc.option(
    fc.constant({ fieldRef: { fieldPath: "spec.nodeName" } }),
    { nil: undefined, freq: 4 },
  ),
}, { requiredKeys: ["name"] });

const VOLUME_NAMES = [
  "kcm-conf-dir",
  "kcm-conf-dir-1",
  "kcm-install-dir",
  "kcm-host-proc",
  "data",
  "cfg",
];

const mount: fc.Arbitrary<Json> = fc.record({
  name: fc.constantFrom(...VOLUME_NAMES),
  mountPath: fc.constantFrom(
    "/etc/kcm",
    "/etc/kcm/",
    "/opt/bin",
    "/host/proc",
    "/data",
    "/x",
  ),
});

const container: fc.Arbitrary<Json> = fc.record({
  name: fc.constantFrom("a", "b", "c", "fwd", "log"),
  image: fc.constant("img"),
  command,
  args: fc.option(fc.array(word, { maxLength: 3 }), { nil: undefined }),
  env: fc.option(fc.array(envEntry, { maxLength: 4 }), { nil: undefined }),
  volumeMounts: fc.option(
    fc.uniqueArray(mount, {
      maxLength: 3,
      selector: (m) => m.mountPath.replace(/\/$/, ""),
    }),
    { nil: undefined },
  ),
  resources,
}, { requiredKeys: ["name", "image", "command", "resources"] });

const volume: fc.Arbitrary<Json> = fc.record({
  name: fc.constantFrom(...VOLUME_NAMES),
  source: fc.oneof(
    fc.constantFrom("/etc/kcm", "/opt/bin/", "/proc", "/var/run").map((
      path,
    ) => ({ hostPath: { path } })),
    fc.constant({ emptyDir: {} }),
  ),
}).map(({ name, source }) => ({ name, ...source }));

const toleration: fc.Arbitrary<Json> = fc.record({
  key: fc.constantFrom("kcm", "gpu", ""),
  operator: fc.constantFrom("Exists", "Equal"),
  value: fc.constantFrom("true", "false"),
  effect: fc.constantFrom("NoSchedule", "NoExecute", ""),
}, { requiredKeys: [] });

const annotations: fc.Arbitrary<Json | undefined> = fc.option(
  fc.record({
    "kcm.intel.com/inject": fc.constantFrom("false", "true", "true"),
    "kcm.intel.com/pool-for-others": fc.constantFrom(
      "infra",
      "controlplane",
      "infra",
      "controlplane",
      "infra",
      "x",
    ),
    "kcm.intel.com/injected": fc.constantFrom("true", "no"),
    "example.com/a~b": fc.constant("1"),
  }, { requiredKeys: [] }),
  { nil: undefined },
);

/** A pod as a user (or another webhook) might send it. */
export const podArbitrary: fc.Arbitrary<Json> = fc.record({
  containers: fc.array(container, { minLength: 1, maxLength: 4 }),
  initContainers: fc.option(fc.array(container, { maxLength: 2 }), {
    nil: undefined,
  }),
  volumes: fc.option(
    fc.uniqueArray(volume, { maxLength: 4, selector: (v) => v.name }),
    { nil: undefined },
  ),
  tolerations: fc.option(fc.array(toleration, { maxLength: 3 }), {
    nil: undefined,
  }),
  nodeSelector: fc.option(
    fc.dictionary(
      fc.constantFrom("kcm.intel.com/kcm-node", "disk"),
      fc.constantFrom("true", "true", "ssd", "ssd", "false"),
    ),
    { nil: undefined },
  ),
  annotations,
}, { requiredKeys: ["containers"] }).map((p) => {
  const spec: Json = { containers: p.containers };
  for (const key of ["initContainers", "volumes", "tolerations"] as const) {
    if (p[key] !== undefined) spec[key] = p[key];
  }
  if (p.nodeSelector !== undefined) spec.nodeSelector = p.nodeSelector;
  // Through JSON, as the API server would send it: plain objects, no
  // undefined members.
  return JSON.parse(JSON.stringify(pod(p.containers, {
    spec,
    metadata: p.annotations === undefined ? {} : { annotations: p.annotations },
  })));
});

/** Every path (as segments) of a JSON value, at most `limit` of them. */
function paths(value: unknown, limit = 400): (string | number)[][] {
  const found: (string | number)[][] = [];
  const walk = (v: unknown, at: (string | number)[]) => {
    if (found.length >= limit) return;
    found.push(at);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...at, i]));
    else if (typeof v === "object" && v !== null) {
      for (const [k, x] of Object.entries(v)) walk(x, [...at, k]);
    }
  };
  walk(value, []);
  return found;
}

/** `value` with the thing at `path` replaced by `next`, or deleted when `next` is undefined. */
function alter(value: unknown, path: (string | number)[], next: unknown) {
  if (path.length === 0) return next;
  const copy = structuredClone(value) as Json;
  let parent: Json = copy;
  for (const segment of path.slice(0, -1)) parent = parent[segment];
  const last = path.at(-1)!;
  if (next === undefined) {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else {
    parent[last] = next;
  }
  return copy;
}

/** A request body: a review of a generated pod, then damaged in one of several ways. */
export const damagedBodyArbitrary: fc.Arbitrary<string> = fc.oneof(
  // One value somewhere in the review replaced (or deleted).
  fc.tuple(
    podArbitrary,
    fc.nat(),
    fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined }),
  ).map(([p, pick, next]) => {
    const body = review(p);
    const all = paths(body);
    return JSON.stringify(alter(body, all[pick % all.length]!, next) ?? null);
  }),
  // The text cut short or with one character changed.
  fc.tuple(podArbitrary, fc.nat(), fc.string({ minLength: 1, maxLength: 1 }))
    .map(([p, pick, c]) => {
      const text = JSON.stringify(review(p));
      const at = pick % text.length;
      return pick % 2 === 0
        ? text.slice(0, at)
        : text.slice(0, at) + c + text.slice(at + 1);
    }),
  // Anything at all.
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? ""),
  fc.string({ maxLength: 200 }),
);
