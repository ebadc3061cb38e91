import assert from "node:assert/strict";
import {
  type CommandName,
  type Invocation,
  parseCommandLine,
  parseCount,
} from "../../core/cli.ts";
import { UsageError } from "../../core/errors.ts";

/** Parses `argv`, which must name command `name`. */
function command<C extends CommandName>(
  name: C,
  argv: string[],
): Invocation<C> {
  const line = parseCommandLine(argv);
  assert.equal(line.kind === "command" && line.command, name);
  return line as Invocation<C>;
}

Deno.test("parseCommandLine() fills the seed's defaults", () => {
  const init = command("init", ["init"]);
  assert.deepEqual(init.options, {
    "conf-dir": "/etc/kcm",
    "num-dp-cores": 4,
    "num-cp-cores": 1,
    "keep-existing": false,
    "ignore-isolcpus": false,
    "dp-mode": "packed",
    "cp-mode": "packed",
  });
  // A count without a default is undefined until given.
  const isolate = command("isolate", ["isolate", "--pool=p", "true"]);
  assert.equal(isolate.options.cores, undefined);
  assert.equal(isolate.options["numa-node"], undefined);
  assert.equal(isolate.options["socket-id"], undefined);
  const placed = command("isolate", [
    "isolate",
    "--pool=p",
    "--cores=3",
    "--numa-node",
    "0",
    "true",
  ]);
  assert.equal(placed.options.cores, 3);
  assert.equal(placed.options["numa-node"], 0);
  assert.deepEqual(command("reconcile", ["reconcile"]).options, {
    "conf-dir": "/etc/kcm",
    publish: false,
    interval: 0,
    heartbeat: 300,
    "metrics-listen": undefined,
    kubeconfig: undefined,
    context: undefined,
    "insecure-http": false,
  });
  assert.deepEqual(command("install", ["install"]).options, {
    "install-dir": "/opt/bin",
  });
  const clusterInit = command("cluster-init", ["cluster-init", "--all-hosts"]);
  assert.equal(
    clusterInit.options["kcm-cmd-list"],
    "init,reconcile,install,discover,nodereport",
  );
  assert.equal(clusterInit.options["kcm-img"], "kcm");
  assert.equal(clusterInit.options["kcm-img-pol"], "Never");
  assert.equal(clusterInit.options["all-hosts"], true);
});

Deno.test("parseCommandLine() tells typed options from defaulted ones", () => {
  const line = command("cluster-uninstall", [
    "cluster-uninstall",
    "--all-hosts",
    "--kcm-img=kcm",
    "--conf=/etc/kcm",
  ]);
  // Given with the default's value still counts as given.
  assert.equal(line.options["kcm-img"], "kcm");
  assert.deepEqual([...line.given].sort(), [
    "all-hosts",
    "conf-dir",
    "kcm-img",
  ]);
  assert.equal(line.given.has("kcm-img-pol"), false);
  assert.deepEqual([...command("init", ["init"]).given], []);
});

Deno.test("parseCommandLine() takes --opt=value, --opt value and prefixes", () => {
  assert.equal(
    command("describe", ["describe", "--conf-dir=/a"]).options["conf-dir"],
    "/a",
  );
  assert.equal(
    command("describe", ["describe", "--conf-dir", "/b"]).options["conf-dir"],
    "/b",
  );
  assert.equal(
    command("describe", ["describe", "--conf=/c"]).options["conf-dir"],
    "/c",
  );
  assert.equal(
    command("describe", ["--conf-dir=/d", "describe"]).options["conf-dir"],
    "/d",
  );
  assert.equal(
    command("init", ["init", "--num-dp=2"]).options["num-dp-cores"],
    2,
  );
});

Deno.test("parseCommandLine() passes everything after -- verbatim to isolate", () => {
  const line = command("isolate", [
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
  const early = command("isolate", [
    "isolate",
    "--pool",
    "infra",
    "--",
    "echo",
    "hi",
  ]);
  assert.deepEqual(early.positionals, ["echo"]);
  assert.deepEqual(early.rest, ["hi"]);
});

Deno.test("parseCommandLine() gives isolate's command every word after it, with or without --", () => {
  // Like env(1) or nice(1): kcm's options come before <command>; from
  // <command> on, the line is the command's. One "--" right after
  // <command> is the seed's form and is dropped.
  const cases: [string[], string, string[]][] = [
    [["isolate", "--pool=infra", "ls", "-l"], "ls", ["-l"]],
    [["isolate", "--pool=infra", "sleep", "inf"], "sleep", ["inf"]],
    [["isolate", "--pool=infra", "sleep", "--", "inf"], "sleep", ["inf"]],
    [["isolate", "--pool=infra", "true"], "true", []],
    // A later "--" is the command's, as the seed's parser gave it.
    [["isolate", "--pool=x", "echo", "a", "--", "b"], "echo", ["a", "--", "b"]],
    [["isolate", "--pool=x", "echo", "--", "--", "b"], "echo", ["--", "b"]],
    [["isolate", "--pool=x", "--", "echo", "--", "b"], "echo", ["b"]],
    [["isolate", "--pool=x", "--", "echo", "a", "--"], "echo", ["a", "--"]],
    [["--pool=x", "isolate", "env"], "env", []],
    // kcm's own options and --help after <command> are the command's.
    [
      ["isolate", "--pool=x", "grep", "--pool=y", "--help", "--version", "-"],
      "grep",
      ["--pool=y", "--help", "--version", "-"],
    ],
  ];
  for (const [argv, name, args] of cases) {
    const line = command("isolate", argv);
    assert.deepEqual(
      [line.positionals, line.rest ?? []],
      [[name], args],
      argv.join(" "),
    );
  }
  const late = command("isolate", ["isolate", "ls", "--pool=infra"]);
  assert.equal(late.options.pool, undefined, "an option after <command>");
  assert.deepEqual(late.rest, ["--pool=infra"]);
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
      /--num is not a unique prefix: --num-dp-cores, --num-cp-cores, --numa-node\?/,
    ],
    [["describe", "--conf-dir"], /--conf-dir requires argument/],
    [["reconcile", "--publish=yes"], /--publish must not have an argument/],
    [["init", "--publish"], /--publish is not an option of init/],
    [["describe", "extra"], /Unexpected argument "extra"/],
    [["describe", "--", "x"], /only valid with isolate/],
    [["isolate", "--pool=infra"], /isolate needs a <command>/],
    [["isolate", "--pool=infra", "--"], /isolate needs a <command>/],
    [["init", "--conf-dir=a", "--conf-dir=b"], /given twice/],
    // Values are typed here, once: counts are whole numbers.
    [
      ["init", "--num-dp-cores=x"],
      /--num-dp-cores must be a whole number >= 0, got "x"/,
    ],
    [["reconcile", "--interval=-1"], /--interval must be a whole number >= 0/],
    [
      ["init", "--num-dp-cores=-1"],
      /--num-dp-cores must be a whole number >= 0, got "-1"/,
    ],
    [
      ["cluster-init", "--all-hosts", "--num-cp-cores=-1"],
      /--num-cp-cores must be a whole number >= 0, got "-1"/,
    ],
    [
      ["cluster-init", "--all-hosts", "--timeout=0"],
      /--timeout must be a whole number >= 1, got "0"/,
    ],
    [
      ["isolate", "--pool=p", "--cores=0", "true"],
      /--cores must be a whole number >= 1, got "0"/,
    ],
    [
      ["isolate", "--pool=p", "--socket-id=s", "true"],
      /--socket-id must be a whole number >= 0, got "s"/,
    ],
    [["init", "--cores=2"], /--cores is not an option of init/],
    [["isolate", "--dp-mode=spread", "true"], /--dp-mode is not an option/],
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
