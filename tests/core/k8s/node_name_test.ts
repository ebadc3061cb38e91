import assert from "node:assert/strict";
import {
  isDns1123Subdomain,
  nodeName,
  toObjectName,
} from "../../../core/k8s/node_name.ts";

Deno.test("nodeName() prefers NODE_NAME over the host name", () => {
  assert.equal(nodeName({ NODE_NAME: "n1" }, () => "host"), "n1");
  assert.equal(nodeName({ NODE_NAME: "" }, () => "host"), "host");
  assert.equal(nodeName({}, () => "host"), "host");
});

Deno.test("toObjectName() makes DNS-1123 subdomain names", () => {
  const cases: [string, string][] = [
    ["node1", "node1"],
    ["Worker_01", "worker-01"],
    ["ip-10-0-0-1.ec2.internal", "ip-10-0-0-1.ec2.internal"],
    ["10.0.0.1", "10.0.0.1"],
    ["-_edge_-", "edge"],
    ["fe80::1", "fe80--1"],
    ["a" + "b".repeat(300), "a" + "b".repeat(252)],
  ];
  for (const [input, expected] of cases) {
    assert.equal(toObjectName(input), expected, input);
    assert.ok(isDns1123Subdomain(expected));
  }
});

// Negative cases.
Deno.test("toObjectName() rejects names with nothing usable", () => {
  for (const bad of ["", "---", "___", "..."]) {
    assert.throws(() => toObjectName(bad), /Cannot make a Kubernetes object/);
  }
});

Deno.test("isDns1123Subdomain() rejects invalid node names", () => {
  for (const bad of ["", "A", "a_b", "-a", "a-", "a..b", "x".repeat(254)]) {
    assert.equal(isDns1123Subdomain(bad), false, bad);
  }
});
