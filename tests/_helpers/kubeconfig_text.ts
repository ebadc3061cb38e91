/** Kubeconfig texts for tests: a current context `main` plus a decoy. */

/** Base64 of `text`, as kubeconfig `-data` fields hold it. */
export const b64 = (text: string): string => btoa(text);

/**
 * A kubeconfig whose current context `main` uses cluster `k` and user `u`;
 * `cluster`, `user` and `context` are indented YAML lines added to each.
 */
export function kubeconfigText(
  cluster: string,
  user: string,
  context = "",
): string {
  return `apiVersion: v1
kind: Config
current-context: main
contexts:
- name: other
  context: {cluster: nowhere, user: nobody}
- name: main
  context:
    cluster: k
    user: u
${context}
clusters:
- name: k
  cluster:
${cluster}
users:
- name: u
  user:
${user}
`;
}
