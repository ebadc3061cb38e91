import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "./_helpers/run_cli.ts";
import { COMMANDS } from "../core/cli.ts";

/** Modules that must stay pure: data in, data out, no `Deno.` access. */
const PURE = [
  "core/cpuset.ts",
  "core/json.ts",
  "core/cli.ts",
  "core/usage.ts",
  "core/log.ts",
  "core/config_paths.ts",
  "core/paths.ts",
  "core/node_checks.ts",
  "core/reconcile_plan.ts",
  "core/owners.ts",
  "core/ownership.ts",
  "core/task_masks.ts",
  "core/describe.ts",
  "core/topology.ts",
  "core/layout.ts",
  "core/poll.ts",
  "core/k8s/kubeconfig.ts",
  "core/k8s/node_name.ts",
  "core/k8s/node_marks.ts",
  "core/k8s/pod_state.ts",
  "core/k8s/report_objects.ts",
  "core/k8s/one_shot_progress.ts",
  "core/k8s/workloads.ts",
  "core/metrics.ts",
  "core/kcm_metrics.ts",
  "core/listen_address.ts",
  "core/publish_policy.ts",
  "core/outage_log.ts",
  "core/format_age.ts",
  "core/errors.ts",
  "core/quote.ts",
  "core/file_names.ts",
  "core/k8s/errors.ts",
  "core/k8s/request_policy.ts",
  "core/k8s/node_events.ts",
  "core/k8s/event_series.ts",
  "core/k8s/forbidden.ts",
  "core/k8s/tls_problem.ts",
  "core/k8s/node_table.ts",
  "core/k8s/object_diff.ts",
  "core/layout_check.ts",
  "core/connection_flags.ts",
  "core/placement_mode.ts",
  "core/topology_record.ts",
  "core/record_document.ts",
  "core/allocate.ts",
  "core/allocation_error.ts",
  "core/pack_lists.ts",
  "core/assignment_env.ts",
  "core/topology_report.ts",
  "core/webhook/admission_review.ts",
  "core/webhook/container_cores.ts",
  "core/webhook/json_patch.ts",
  "core/webhook/host_volumes.ts",
  "core/webhook/mutate_pod.ts",
  "core/webhook/names.ts",
  "core/webhook/pod.ts",
  "core/webhook/quantity.ts",
  "core/webhook/review.ts",
  "core/webhook/settings.ts",
  "core/webhook/wrap_command.ts",
  "core/der.ts",
  "core/k8s/webhook_objects.ts",
];

Deno.test("pure modules never touch Deno, nor import an effect module", async () => {
  for (const file of PURE) {
    const source = await Deno.readTextFile(join(REPO_ROOT, file));
    const code = source.split("\n").filter((l) => !/^\s*(\*|\/\/)/.test(l));
    assert.ok(!code.some((l) => /\bDeno\./.test(l)), `${file} mentions Deno.`);
    // Values may come only from pure modules; types from anywhere.
    for (
      const [, typeOnly, target] of source.matchAll(
        /^import (type )?[^;]*? from "(\.[^"]+)";/gms,
      )
    ) {
      const resolved = join(file, "..", target!);
      assert.ok(
        typeOnly !== undefined || PURE.includes(resolved),
        `${file} imports the effect module ${resolved}`,
      );
    }
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

interface GraphModule {
  specifier: string;
  dependencies?: { code?: { specifier: string } }[];
}

/**
 * The modules `deno run <file>` reads before it runs anything: every module
 * reachable through code imports, static or dynamic with a literal
 * specifier (Deno walks those too), not through type-only ones. Paths are
 * relative to the repository; npm packages keep their `npm:` specifier.
 */
async function startupModules(file: string): Promise<string[]> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", file],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const graph = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    roots: string[];
    modules: GraphModule[];
  };
  const bySpecifier = new Map(graph.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const walk = (specifier: string) => {
    if (seen.has(specifier)) return;
    seen.add(specifier);
    for (const dep of bySpecifier.get(specifier)?.dependencies ?? []) {
      if (dep.code !== undefined) walk(dep.code.specifier);
    }
  };
  graph.roots.forEach(walk);
  const root = `file://${REPO_ROOT}/`;
  return [...seen].map((s) => s.startsWith(root) ? s.slice(root.length) : s)
    .sort();
}

Deno.test("isolate's start-up path loads no Kubernetes or YAML code", async () => {
  // Deno follows static and literal dynamic imports before running
  // anything, so this is everything `kcm isolate` makes Deno read.
  const modules = await startupModules("main.ts");
  assert.ok(modules.includes("commands/isolate.ts"));
  assert.ok(modules.includes("core/config_read.ts"));
  const heavy = modules.filter((s) =>
    s.startsWith("core/k8s/") || s.startsWith("npm:") || s.includes("yaml")
  );
  assert.deepEqual(heavy, []);
  assert.deepEqual(modules.filter((s) => s.includes("webhook")), []);
  // Deno's Node compatibility layer costs about 25 ms to load (node:fs,
  // node:process alike): nothing on this path imports it.
  assert.deepEqual(modules.filter((s) => s.startsWith("node:")), []);
  const otherCommands = modules.filter((s) =>
    s.startsWith("commands/") && s !== "commands/isolate.ts"
  );
  assert.deepEqual(otherCommands, [], "other commands load on demand");
  // A claim of one list needs neither the allocator nor sysfs: both come
  // with core/isolate_placement.ts, loaded when a claim is placed.
  const placement = modules.filter((s) =>
    [
      "core/allocate.ts",
      "core/pack_lists.ts",
      "core/isolate_placement.ts",
      "core/sysfs.ts",
      "core/topology.ts",
    ].includes(s)
  );
  assert.deepEqual(placement, [], "placement loads on demand");
});

Deno.test("isolate's on-demand module loads and is compiled in", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(join(REPO_ROOT, "deno.json")),
  ) as { tasks: { compile: string } };
  assert.match(
    config.tasks.compile,
    /\s--include core\/isolate_placement\.ts\s/,
  );
  const placement = await import("../core/isolate_placement.ts");
  assert.equal(typeof placement.allocateFromPool, "function");
  assert.ok(
    (await startupModules("core/isolate_placement.ts")).includes(
      "core/allocate.ts",
    ),
  );
});

Deno.test("loadCommand() loads every command's module", async () => {
  const { loadCommand } = await import("../main.ts");
  for (const name of COMMANDS) {
    const module = await loadCommand(name);
    assert.equal(typeof module.parse, "function", name);
    assert.equal(typeof module.run, "function", name);
  }
});

Deno.test("deno task compile includes the commands main.ts loads on demand", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(join(REPO_ROOT, "deno.json")),
  ) as { tasks: { compile: string } };
  assert.match(config.tasks.compile, /\s--include commands\/\s/);
});
