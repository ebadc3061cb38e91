import assert from "node:assert/strict";
import { parseKubeconfig } from "../../../core/k8s/kubeconfig.ts";
import { K8sConfigError } from "../../../core/k8s/errors.ts";
import {
  b64,
  kubeconfigText as kubeconfig,
} from "../../_helpers/kubeconfig_text.ts";

Deno.test("parseKubeconfig() picks the current context with inline data", () => {
  const entry = parseKubeconfig(
    kubeconfig(
      `    server: https://10.1.2.3:6443\n    certificate-authority-data: ${
        b64("CA PEM")
      }`,
      `    client-certificate-data: ${b64("CERT")}\n    client-key-data: ${
        b64("KEY")
      }`,
      "    namespace: kcm-system",
    ),
    "/k/config",
  );
  assert.deepEqual(entry, {
    context: "main",
    source: "/k/config",
    server: "https://10.1.2.3:6443",
    ca: { data: "CA PEM" },
    insecureSkipTlsVerify: false,
    token: undefined,
    clientCert: { data: "CERT" },
    clientKey: { data: "KEY" },
    namespace: "kcm-system",
  });
});

Deno.test("parseKubeconfig() resolves relative files and reads insecure", () => {
  const entry = parseKubeconfig(
    kubeconfig(
      "    server: https://h:1/\n    insecure-skip-tls-verify: true",
      "    tokenFile: tok",
    ),
    "/etc/k/config",
  );
  assert.deepEqual(entry.token, { file: "/etc/k/tok" });
  assert.equal(entry.insecureSkipTlsVerify, true);
  assert.equal(entry.ca, undefined);
  assert.equal(entry.namespace, undefined);
});

// Negative cases.
Deno.test("parseKubeconfig() rejects broken kubeconfigs with the reason", () => {
  const cases: [string, RegExp][] = [
    ["current-context: x\ncontexts: []", /no context "x"/],
    ["kind: Config", /no current-context/],
    ["[1, 2", /not valid YAML/],
    [
      kubeconfig("    server: ftp://h", "    token: t"),
      /server "ftp:\/\/h" is not http/,
    ],
    [
      kubeconfig("    server: https://h", "    exec: {command: aws}"),
      /exec or auth-provider plugin/,
    ],
    [
      kubeconfig("    server: https://h", `    client-key-data: ${b64("K")}`),
      /certificate without a key or a key without/,
    ],
    [
      kubeconfig("    certificate-authority: x", "    token: t"),
      /cluster "k" has no server/,
    ],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parseKubeconfig(text, "/c"),
      (e) => e instanceof K8sConfigError && message.test(e.message),
      text,
    );
  }
});
