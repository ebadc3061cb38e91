/**
 * The names kcm's mutating admission webhook reads and writes on Pods: the
 * extended resource a container asks for, the annotations a user sets, the
 * annotation the webhook sets, and the node label and taint it steers pods
 * to. Pure constants, shared by the webhook, its manifests and its docs.
 */

import { DATAPLANE_RESOURCE } from "../k8s/node_marks.ts";

/** The extended resource a container requests to get dataplane cores. */
export const DATAPLANE_CORES = DATAPLANE_RESOURCE;

/** Label of the nodes `kcm discover` prepared; the taint it puts on them. */
export { KCM_TAINT, NODE_LABEL } from "../k8s/node_marks.ts";

/** Pod annotation: `"false"` leaves the pod alone (any other value: no effect). */
export const INJECT_ANNOTATION = "kcm.intel.com/inject";

/**
 * Pod annotation the webhook sets to `"true"` on every pod it changed. It is
 * a record for people and tools; the webhook itself recognises its own work
 * from the pod's content, so removing the annotation changes nothing.
 */
export const INJECTED_ANNOTATION = "kcm.intel.com/injected";

/**
 * Pod annotation naming the shared pool (`infra` or `controlplane`) that the
 * containers asking for no cores run in, when some container of the pod
 * asks for cores. Without it those containers are left alone.
 */
export const POOL_FOR_OTHERS_ANNOTATION = "kcm.intel.com/pool-for-others";

/** Pools the annotation {@linkcode POOL_FOR_OTHERS_ANNOTATION} may name. */
export const SHARED_POOLS: readonly string[] = ["infra", "controlplane"];

/** The pool of containers that ask for cores. */
export const DATAPLANE_POOL = "dataplane";

/** Where the host's /proc appears in wrapped containers (`KCM_PROC_FS`). */
export const HOST_PROC_MOUNT = "/host/proc";

/** The most cores one container may ask for (a bound for parsing, not a node's size). */
export const MAX_CORES = 4096;

/** The largest request body `/mutate` reads: 3 MiB, the API server's own request limit. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;
