import assert from "node:assert/strict";
import { forbiddenCause, forbiddenHint } from "../../../core/k8s/forbidden.ts";
import { tlsProblem } from "../../../core/k8s/tls_problem.ts";

Deno.test("forbiddenCause() tells the causes of a 403 apart", () => {
  const cases: [string, string][] = [
    [
      'nodes "n1" is forbidden: User "system:serviceaccount:kcm-system:kcm-installer" cannot patch resource "nodes" in API group "" at the cluster scope',
      "rbac",
    ],
    [
      'pods "p" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false',
      "pod-security",
    ],
    [
      'pods "p" is forbidden: error looking up service account ns/sa: serviceaccount "sa" not found',
      "service-account",
    ],
    [
      "nodes \"n\" is forbidden: ValidatingAdmissionPolicy 'corp-policy' with binding 'b' denied request: no",
      "admission-policy",
    ],
    [
      'admission webhook "deny.example.com" denied the request: no',
      "webhook",
    ],
    ["forbidden: something new", "other"],
  ];
  for (const [message, kind] of cases) {
    assert.equal(forbiddenCause(message).kind, kind, message);
  }
  assert.deepEqual(
    forbiddenCause(
      'nodes "n1" is forbidden: User "system:serviceaccount:kcm-system:kcm-installer" cannot patch resource "nodes" in API group "" at the cluster scope',
    ),
    {
      kind: "rbac",
      user: "system:serviceaccount:kcm-system:kcm-installer",
      verb: "patch",
      resource: "nodes",
      namespace: "",
    },
  );
});

Deno.test("forbiddenHint() fits the cause", () => {
  assert.match(
    forbiddenHint({ kind: "admission-policy", policy: "corp-policy" }),
    /"corp-policy" refused the request: ask its owner/,
  );
  assert.match(
    forbiddenHint({
      kind: "rbac",
      user: "system:serviceaccount:kcm-system:kcm-installer",
      verb: "patch",
      resource: "nodes",
      namespace: "",
    }),
    /^grant system:serviceaccount:kcm-system:kcm-installer "patch" on "nodes": apply the installer's roles/,
  );
  assert.match(forbiddenHint({ kind: "other" }), /its message says why/);
});

Deno.test("tlsProblem() reads rustls' reasons and nothing else", () => {
  assert.equal(
    tlsProblem("invalid peer certificate: BadSignature")?.kind,
    "other",
  );
  assert.equal(
    tlsProblem("received corrupt message of type InvalidContentType")?.kind,
    "not-tls",
  );
  for (
    const text of [
      "tcp connect error: Connection refused (os error 111)",
      "dns error: failed to lookup address information",
      "connection reset by peer",
    ]
  ) {
    assert.equal(tlsProblem(text), undefined, text);
  }
});
