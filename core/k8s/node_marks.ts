/**
 * What kcm puts on a Node it prepared (`kcm discover`) and takes off again
 * (`kcm uninstall`): the extended resource, the label and the taint. Pure
 * constants, the one definition shared by the node patches, the DaemonSet's
 * node selector and the admission webhook.
 */

/** The extended resource counting dataplane cpu lists. */
export const DATAPLANE_RESOURCE = "kcm.intel.com/dataplane-cores";

/** The label of nodes prepared by kcm. */
export const NODE_LABEL = "kcm.intel.com/kcm-node";

/** The taint that keeps pods without a toleration off kcm nodes. */
export const KCM_TAINT = {
  key: "kcm",
  value: "true",
  effect: "NoSchedule",
} as const;
