import assert from "node:assert/strict";
import { parseCommandLine } from "../../core/cli.ts";
import { connectionFlags } from "../../core/connection_flags.ts";
import { UsageError } from "../../core/errors.ts";

/** The connection flags of `kcm discover <args>`. */
function flagsOf(...args: string[]) {
  const line = parseCommandLine(["discover", ...args]);
  assert.ok(line.kind === "command" && line.command === "discover");
  return connectionFlags(line.options);
}

Deno.test("connectionFlags() reads the three connection options", () => {
  assert.deepEqual(flagsOf("--kubeconfig=/k", "--insecure-http"), {
    kubeconfig: "/k",
    context: undefined,
    insecureHttp: true,
  });
  assert.deepEqual(flagsOf("--context", "prod"), {
    kubeconfig: undefined,
    context: "prod",
    insecureHttp: false,
  });
  assert.throws(() => flagsOf("--context= "), UsageError);
  assert.throws(() => flagsOf("--kubeconfig="), UsageError);
});
