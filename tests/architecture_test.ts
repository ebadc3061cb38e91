import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "./_helpers/run_cli.ts";

/** Modules that must stay pure: data in, data out, no `Deno.` access. */
const PURE = [
  "core/cpuset.ts",
  "core/json.ts",
  "core/cli.ts",
  "core/usage.ts",
  "core/log.ts",
  "core/reports.ts",
  "core/describe.ts",
  "core/topology.ts",
  "core/layout.ts",
  "core/poll.ts",
  "core/k8s/kubeconfig.ts",
  "core/k8s/node_name.ts",
  "core/k8s/pod_state.ts",
  "core/k8s/report_objects.ts",
  "core/k8s/one_shot_progress.ts",
  "core/k8s/workloads.ts",
  "core/k8s/forbidden.ts",
  "core/k8s/tls_problem.ts",
  "core/k8s/node_table.ts",
  "core/k8s/object_diff.ts",
  "core/layout_check.ts",
  "core/placement_mode.ts",
  "core/topology_record.ts",
  "core/allocate.ts",
  "core/allocation_error.ts",
  "core/pack_lists.ts",
  "core/assignment_env.ts",
  "core/topology_report.ts",
];

Deno.test("pure modules never touch Deno", async () => {
  for (const file of PURE) {
    const source = await Deno.readTextFile(join(REPO_ROOT, file));
    const code = source.split("\n").filter((l) => !/^\s*(\*|\/\/)/.test(l));
    assert.ok(!code.some((l) => /\bDeno\./.test(l)), `${file} mentions Deno.`);
  }
});

Deno.test("commands reach the machine only through core's effect modules", async () => {
  for await (const entry of Deno.readDir(join(REPO_ROOT, "commands"))) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    const source = await Deno.readTextFile(
      join(REPO_ROOT, "commands", entry.name),
    );
    const code = source.split("\n").filter((l) => !/^\s*(\*|\/\/)/.test(l));
    assert.ok(
      !code.some((l) => /\bDeno\./.test(l)),
      `commands/${entry.name} mentions Deno.`,
    );
  }
});

Deno.test("only main.ts calls Deno.exit", async () => {
  for (const dir of ["core", "commands"]) {
    for await (const entry of Deno.readDir(join(REPO_ROOT, dir))) {
      if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
      const source = await Deno.readTextFile(join(REPO_ROOT, dir, entry.name));
      assert.ok(!source.includes("Deno.exit("), `${dir}/${entry.name}`);
    }
  }
});

Deno.test("isolate's start-up path loads no Kubernetes or YAML code", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "commands/isolate.ts"],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const graph = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    modules: { specifier: string }[];
  };
  const specifiers = graph.modules.map((m) => m.specifier);
  assert.ok(specifiers.some((s) => s.endsWith("/core/config_dir.ts")));
  const heavy = specifiers.filter((s) =>
    s.includes("/core/k8s/") || s.startsWith("npm:") || s.includes("yaml")
  );
  assert.deepEqual(heavy, []);
});
