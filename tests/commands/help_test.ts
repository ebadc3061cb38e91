import assert from "node:assert/strict";
import { REPO_ROOT, runKcm } from "../_helpers/run_cli.ts";

async function seedUsageLines(): Promise<string[]> {
  const readme = await Deno.readTextFile(
    `${REPO_ROOT}/tests/fixtures/seed_usage.txt`,
  );
  const start = readme.indexOf("kcm.\n\nUsage:");
  const end = readme.indexOf("API server.", start) + "API server.".length;
  assert.ok(start >= 0 && end > start, "usage block found");
  return readme.slice(start, end).split("\n");
}

Deno.test("kcm --help shows every seed usage line, verbatim and in order", async () => {
  const result = await runKcm(["--help"]);
  assert.equal(result.code, 0);
  assert.equal(result.stderr, "");
  const lines = result.stdout.split("\n");
  let at = 0;
  for (const seedLine of await seedUsageLines()) {
    const found = lines.indexOf(seedLine, at);
    assert.ok(
      found >= 0,
      `missing or out of order: ${JSON.stringify(seedLine)}`,
    );
    at = found + 1;
  }
  assert.ok(result.stdout.endsWith("\n") && !result.stdout.endsWith("\n\n"));
});

Deno.test("kcm --version prints KCM <version>", async () => {
  const result = await runKcm(["--version"]);
  assert.equal(result.code, 0);
  const config = JSON.parse(await Deno.readTextFile(`${REPO_ROOT}/deno.json`));
  assert.equal(result.stdout, `KCM ${config.version}\n`);
});

Deno.test("kcm usage errors exit 2 with a reason and the usage section", async () => {
  for (
    const [argv, reason] of [
      [
        ["init", "--num-dp-cores=x"],
        'kcm: error: --num-dp-cores must be a whole number >= 0, got "x"',
      ],
      [["isolate", "--pool=infra"], "kcm: error: isolate needs a <command>"],
      [[], "kcm: error: No command given"],
      [
        ["reconcile", "--interval=-1"],
        "kcm: error: --interval must be a whole number",
      ],
    ] as const
  ) {
    const result = await runKcm(argv);
    assert.equal(result.code, 2, argv.join(" "));
    assert.equal(result.stdout, "");
    const [first, second] = result.stderr.split("\n");
    assert.ok(first!.startsWith(reason), result.stderr);
    assert.equal(second, "Usage:");
    assert.ok(!result.stderr.includes("Options:"));
  }
});

Deno.test("kcm rejects a bad KCM_LOG_LEVEL or KCM_LOCK_TIMEOUT, takes any case", async () => {
  const bad = await runKcm(["describe"], { env: { KCM_LOG_LEVEL: "verbose" } });
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /KCM_LOG_LEVEL must be one of CRITICAL, ERROR, WARNING, INFO, DEBUG, got "verbose"/,
  );
  const timeout = await runKcm(["describe"], {
    env: { KCM_LOCK_TIMEOUT: "soon" },
  });
  assert.equal(timeout.code, 2);
  assert.match(
    timeout.stderr,
    /KCM_LOCK_TIMEOUT must be a number of seconds, got "soon"/,
  );
  const help = await runKcm(["--help"], { env: { KCM_LOG_LEVEL: "verbose" } });
  assert.equal(help.code, 0, "--help works whatever the environment");
  const lower = await runKcm(["describe", "--conf-dir=/nonexistent/kcm"], {
    env: { KCM_LOG_LEVEL: "debug" },
  });
  assert.equal(lower.code, 1);
  assert.match(
    lower.stderr,
    /^kcm: error: Cannot open lock file "\/nonexistent\/kcm\/lock": no such file or directory\n/,
  );
  assert.match(lower.stderr, /caused by:/, "DEBUG shows the cause chain");
});

Deno.test("kcm refuses Python's level aliases and numbers in KCM_LOG_LEVEL", async () => {
  // The reference passed the value to Python's logging, which also took
  // WARN and NOTSET; kcm takes the five names of its help screen only.
  for (const level of ["WARN", "NOTSET", "10", "FATAL"]) {
    const result = await runKcm(["describe", "--conf-dir=/nonexistent"], {
      env: { KCM_LOG_LEVEL: level },
    });
    assert.equal(result.code, 2, level);
    assert.ok(
      result.stderr.startsWith(
        `kcm: error: KCM_LOG_LEVEL must be one of CRITICAL, ERROR, WARNING, INFO, DEBUG, got "${level}"\n`,
      ),
      result.stderr,
    );
  }
});
