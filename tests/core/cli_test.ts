import assert from "node:assert/strict";
import { parseCommandLine, parseCount } from "../../core/cli.ts";
import { UsageError } from "../../core/errors.ts";

function command(argv: string[]) {
  const line = parseCommandLine(argv);
  assert.equal(line.kind, "command");
  return line as Extract<typeof line, { kind: "command" }>;
}

Deno.test("parseCommandLine() fills the seed's defaults", () => {
  const init = command(["init"]);
  assert.deepEqual(init.options, {
    "conf-dir": "/etc/kcm",
    "num-dp-cores": "4",
    "num-cp-cores": "1",
    "keep-existing": false,
  });
  assert.deepEqual(command(["reconcile"]).options, {
    "conf-dir": "/etc/kcm",
    publish: false,
    interval: "0",
  });
  assert.deepEqual(command(["install"]).options, { "install-dir": "/opt/bin" });
  const clusterInit = command(["cluster-init", "--all-hosts"]);
  assert.equal(
    clusterInit.options["kcm-cmd-list"],
    "init,reconcile,install,discover,nodereport",
  );
  assert.equal(clusterInit.options["kcm-img"], "kcm");
  assert.equal(clusterInit.options["kcm-img-pol"], "Never");
  assert.equal(clusterInit.options["all-hosts"], true);
});

Deno.test("parseCommandLine() takes --opt=value, --opt value and prefixes", () => {
  assert.equal(
    command(["describe", "--conf-dir=/a"]).options["conf-dir"],
    "/a",
  );
  assert.equal(
    command(["describe", "--conf-dir", "/b"]).options["conf-dir"],
    "/b",
  );
  assert.equal(command(["describe", "--conf=/c"]).options["conf-dir"], "/c");
  assert.equal(
    command(["--conf-dir=/d", "describe"]).options["conf-dir"],
    "/d",
  );
  assert.equal(command(["init", "--num-dp=2"]).options["num-dp-cores"], "2");
});

Deno.test("parseCommandLine() passes everything after -- verbatim to isolate", () => {
  const line = command([
    "isolate",
    "--pool=infra",
    "sleep",
    "--",
    "--help",
    "-x",
    "--",
    "a b",
  ]);
  assert.deepEqual(line.positionals, ["sleep"]);
  assert.deepEqual(line.rest, ["--help", "-x", "--", "a b"]);
  assert.equal(line.options.pool, "infra");
  assert.equal(line.options["no-affinity"], false);
  const early = command(["isolate", "--pool", "infra", "--", "echo", "hi"]);
  assert.deepEqual(early.positionals, ["echo"]);
  assert.deepEqual(early.rest, ["hi"]);
});

Deno.test("parseCommandLine() answers --help and --version", () => {
  assert.equal(parseCommandLine(["--help"]).kind, "help");
  assert.equal(parseCommandLine(["-h"]).kind, "help");
  assert.equal(parseCommandLine(["init", "--help"]).kind, "help");
  assert.equal(parseCommandLine(["--version"]).kind, "version");
  // After "--" a --help belongs to the command.
  assert.equal(
    parseCommandLine(["isolate", "--pool=x", "ls", "--", "--help"]).kind,
    "command",
  );
});

Deno.test("parseCommandLine() rejects mismatches with a reason", () => {
  const cases: [string[], RegExp][] = [
    [[], /No command given/],
    [["frobnicate"], /Unknown command "frobnicate"/],
    [["init", "--foo"], /Unknown option --foo/],
    [["init", "-x"], /Unknown option -x/],
    [
      ["init", "--num=3"],
      /--num is not a unique prefix: --num-dp-cores, --num-cp-cores\?/,
    ],
    [["describe", "--conf-dir"], /--conf-dir requires argument/],
    [["reconcile", "--publish=yes"], /--publish must not have an argument/],
    [["init", "--publish"], /--publish is not an option of init/],
    [["describe", "extra"], /Unexpected argument "extra"/],
    [["describe", "--", "x"], /only valid with isolate/],
    [["isolate", "--pool=infra"], /isolate needs a <command>/],
    [
      ["isolate", "--pool=infra", "sleep", "inf"],
      /put its arguments after "--"/,
    ],
    [["init", "--conf-dir=a", "--conf-dir=b"], /given twice/],
  ];
  for (const [argv, message] of cases) {
    assert.throws(
      () => parseCommandLine(argv),
      (e: unknown) =>
        e instanceof UsageError && e.exitCode === 2 && message.test(e.message),
      argv.join(" "),
    );
  }
});

Deno.test("parseCount() takes whole numbers only", () => {
  assert.equal(parseCount("n", "0"), 0);
  assert.equal(parseCount("n", "12"), 12);
  for (
    const bad of ["", "-1", "3.5", "x", " 1", "1e3", "99999999999999999999"]
  ) {
    assert.throws(() => parseCount("n", bad), UsageError, bad);
  }
});
