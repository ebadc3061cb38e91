/** The AdmissionReview the webhook benchmark sends. */

/** A Pod CREATE as the API server sends it: two containers, one asking for 2 cores. */
export function admissionReview(): string {
  const env = Array.from({ length: 12 }, (_, i) => ({
    name: `APP_SETTING_${i}`,
    value: `value-${i}`,
  }));
  const container = (name: string, cores?: string) => ({
    name,
    image: `registry.example.com/${name}:1.4.2`,
    command: [`/usr/bin/${name}`],
    args: ["--config=/etc/app/config.yaml", "--log-level=info"],
    env,
    ports: [{ containerPort: 8080, protocol: "TCP" }],
    resources: cores === undefined
      ? { requests: { cpu: "100m", memory: "64Mi" } }
      : {
        requests: {
          cpu: "2",
          memory: "1Gi",
          "kcm.intel.com/dataplane-cores": cores,
        },
        limits: { memory: "1Gi", "kcm.intel.com/dataplane-cores": cores },
      },
    volumeMounts: [{ name: "config", mountPath: "/etc/app" }],
    terminationMessagePath: "/dev/termination-log",
    terminationMessagePolicy: "File",
    imagePullPolicy: "IfNotPresent",
  });
  return JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: "0b9a8f51-6a33-4d6b-9a5e-1f2b3c4d5e6f",
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      requestKind: { group: "", version: "v1", kind: "Pod" },
      requestResource: { group: "", version: "v1", resource: "pods" },
      name: "packet-forwarder-7d9f8-abcde",
      namespace: "nfv",
      operation: "CREATE",
      userInfo: {
        username: "system:serviceaccount:kube-system:replicaset-controller",
        uid: "4f1c2a9e-0000-4000-8000-000000000001",
        groups: ["system:serviceaccounts", "system:authenticated"],
      },
      object: {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          name: "packet-forwarder-7d9f8-abcde",
          generateName: "packet-forwarder-7d9f8-",
          namespace: "nfv",
          labels: { app: "packet-forwarder", "pod-template-hash": "7d9f8" },
          annotations: { "example.com/owner": "team-nfv" },
          ownerReferences: [{
            apiVersion: "apps/v1",
            kind: "ReplicaSet",
            name: "packet-forwarder-7d9f8",
            uid: "4f1c2a9e-0000-4000-8000-000000000002",
            controller: true,
            blockOwnerDeletion: true,
          }],
          managedFields: [{
            manager: "kube-controller-manager",
            operation: "Update",
            apiVersion: "v1",
            fieldsType: "FieldsV1",
            fieldsV1: { "f:metadata": { "f:labels": { "f:app": {} } } },
          }],
        },
        spec: {
          containers: [container("forwarder", "2"), container("exporter")],
          volumes: [{ name: "config", configMap: { name: "forwarder" } }],
          restartPolicy: "Always",
          terminationGracePeriodSeconds: 30,
          dnsPolicy: "ClusterFirst",
          serviceAccountName: "default",
          securityContext: {},
          schedulerName: "default-scheduler",
          tolerations: [
            {
              key: "node.kubernetes.io/not-ready",
              operator: "Exists",
              effect: "NoExecute",
              tolerationSeconds: 300,
            },
          ],
          priority: 0,
          enableServiceLinks: true,
        },
        status: {},
      },
      oldObject: null,
      dryRun: false,
      options: { apiVersion: "meta.k8s.io/v1", kind: "CreateOptions" },
    },
  });
}
