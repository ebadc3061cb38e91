/**
 * The Dockerfile cannot be built here (no Docker engine), so this reads it
 * and checks it against the repository: the compile task it runs exists,
 * the binary it copies is the one that task writes, the entrypoint is where
 * it is copied to, base images are pinned, and every source file kcm needs
 * reaches the build context.
 */

import assert from "node:assert/strict";
import { join, posix } from "node:path";
import { REPO_ROOT } from "./_helpers/run_cli.ts";

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

interface Stage {
  readonly image: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

/** Splits a Dockerfile into stages of instructions (continuations joined). */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let current = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (current === "" && (line === "" || line.startsWith("#"))) continue;
    if (line.endsWith("\\")) {
      current += line.slice(0, -1) + " ";
      continue;
    }
    logical.push(current + line);
    current = "";
  }
  const stages: Stage[] = [];
  for (const line of logical) {
    const match = /^(\S+)\s+(.*)$/.exec(line);
    assert.ok(match, `cannot parse Dockerfile line: ${line}`);
    const keyword = match[1]!.toUpperCase(), args = match[2]!;
    if (keyword === "FROM") {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      assert.ok(from, `cannot parse FROM ${args}`);
      stages.push({ image: from[1]!, name: from[2], instructions: [] });
    } else {
      assert.ok(stages.length > 0, `${keyword} before FROM`);
      stages.at(-1)!.instructions.push({ keyword, args });
    }
  }
  return stages;
}

function only(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((i) => i.keyword === keyword);
}

/** Whether `.dockerignore` lets `path` into the build context. */
function included(patterns: readonly string[], path: string): boolean {
  let keep = true;
  for (const raw of patterns) {
    const negated = raw.startsWith("!");
    const pattern = (negated ? raw.slice(1) : raw).replace(/\/$/, "");
    const matches = pattern === "*" || pattern === "**" ||
      path === pattern || path.startsWith(pattern + "/");
    if (matches) keep = negated;
  }
  return keep;
}

const dockerfile = await Deno.readTextFile(join(REPO_ROOT, "Dockerfile"));
const stages = parseDockerfile(dockerfile);
const denoJson = JSON.parse(
  await Deno.readTextFile(join(REPO_ROOT, "deno.json")),
) as { tasks: Record<string, string> };
const ignorePatterns = (await Deno.readTextFile(
  join(REPO_ROOT, ".dockerignore"),
)).split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));

Deno.test("Dockerfile is multi-stage with pinned base images", async () => {
  assert.ok(stages.length >= 2, "a build stage and a runtime stage");
  for (const { image } of stages) {
    const tag = /:([^/@]+)$/.exec(image)?.[1];
    assert.ok(tag !== undefined, `${image} has no tag`);
    assert.notEqual(tag, "latest");
    assert.match(tag, /\d+\.\d+/, `${image} is not pinned to a version`);
  }
  // The build stage uses the Deno version CI installs.
  const ci = await Deno.readTextFile(join(REPO_ROOT, ".ci/run"));
  const version = /^DENO_VERSION=(\S+)$/m.exec(ci)?.[1];
  assert.ok(version);
  const build = stages.find((s) => s.image.startsWith("denoland/deno:"));
  assert.ok(build, "a denoland/deno build stage");
  assert.match(
    build.image,
    new RegExp(`:(bin-)?${version.replace(/\./g, "\\.")}$`),
  );
  // The runtime has glibc (debian, or distroless/cc).
  assert.match(stages.at(-1)!.image, /^(debian:|gcr\.io\/distroless\/cc)/);
});

Deno.test("Dockerfile runs the compile task and ships what it writes as the entrypoint", () => {
  const task = denoJson.tasks.compile;
  assert.ok(task, "deno.json has a compile task");
  const words = task.split(/\s+/);
  assert.deepEqual(words.slice(0, 2), ["deno", "compile"]);
  assert.ok(words.at(-1) === "main.ts", task);
  const output = words[words.indexOf("--output") + 1];
  assert.ok(output, "the compile task names its --output");

  const build = stages.find((s) =>
    only(s, "RUN").some((r) => /\bdeno task compile\b/.test(r.args))
  );
  assert.ok(build?.name, "a named stage runs `deno task compile`");
  const workdir = only(build, "WORKDIR").at(-1)?.args ?? "/";
  const builtAt = posix.resolve(workdir, output);

  const runtime = stages.at(-1)!;
  assert.notEqual(runtime, build);
  const copies = only(runtime, "COPY").map((c) => c.args.split(/\s+/));
  const copy = copies.find((c) => c[0] === `--from=${build.name}`);
  assert.ok(copy, `runtime copies from stage ${build.name}`);
  assert.equal(copy[1], builtAt, "copies the file the compile task writes");
  const destination = copy[2]!;
  assert.equal(destination, "/usr/local/bin/kcm");

  const entrypoint = only(runtime, "ENTRYPOINT").at(-1);
  assert.ok(entrypoint, "runtime has an ENTRYPOINT");
  assert.deepEqual(JSON.parse(entrypoint.args), [destination]);
});

Deno.test("Dockerfile build context holds every local module of main.ts", async () => {
  const build = stages[0]!;
  const copied = only(build, "COPY").flatMap((c) => {
    const parts = c.args.split(/\s+/).filter((p) => !p.startsWith("--"));
    return parts.slice(0, -1).map((p) => p.replace(/\/$/, ""));
  });
  for (const path of copied) {
    assert.ok(included(ignorePatterns, path), `.dockerignore drops ${path}`);
    await Deno.stat(join(REPO_ROOT, path)); // exists
  }
  assert.ok(!included(ignorePatterns, "tests/fixtures"));

  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "main.ts"],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(info.code, 0, new TextDecoder().decode(info.stderr));
  const graph = JSON.parse(new TextDecoder().decode(info.stdout)) as {
    modules: { specifier: string }[];
  };
  const prefix = `file://${REPO_ROOT}/`;
  const local = graph.modules.map((m) => m.specifier)
    .filter((s) => s.startsWith(prefix))
    .map((s) => s.slice(prefix.length));
  assert.ok(local.includes("commands/install.ts"), local.join(" "));
  for (const file of local) {
    assert.ok(
      copied.some((c) => file === c || file.startsWith(c + "/")),
      `${file} is imported by main.ts but not copied into the build stage`,
    );
    assert.ok(included(ignorePatterns, file), `.dockerignore drops ${file}`);
  }
});
