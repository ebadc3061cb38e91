/**
 * docs/reference.md lists what kcm keeps of the 2017 tool and every place
 * it departs, each with a tag. This test holds the same list, each tag with
 * the tests that check it: a tag in the doc without a test here fails, a
 * tag here missing from the doc fails, and every test named here must
 * exist. A new departure is written down in both places, or not at all.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "./_helpers/run_cli.ts";

/** A test: its file, and the start of its name. */
type TestRef = readonly [file: string, name: string];

const HELP = "tests/commands/help_test.ts";
const CLI = "tests/core/cli_test.ts";
const ISOLATE = "tests/commands/isolate_test.ts";
const RECONCILE = "tests/commands/reconcile_test.ts";
const NODE_REPORT = "tests/commands/node_report_test.ts";
const DISCOVER = "tests/commands/discover_test.ts";
const DESCRIBE = "tests/commands/describe_test.ts";
const CLUSTER_INIT = "tests/commands/cluster_init_test.ts";
const LAYOUT = "tests/core/layout_test.ts";
const INIT = "tests/commands/init_test.ts";
const RAW = "tests/commands/raw_names_test.ts";
const SIGNALS = "tests/system/isolate_signals_test.ts";

/** Every tag of docs/reference.md, with the tests that check it. */
const COVERAGE: Readonly<Record<string, readonly TestRef[]>> = {
  // Command line
  "k-usage-lines": [[HELP, "kcm --help shows every seed usage line"]],
  "k-option-forms": [
    [CLI, "parseCommandLine() takes --opt=value, --opt value and prefixes"],
    [CLI, "parseCommandLine() fills the seed's defaults"],
  ],
  "d-version": [[HELP, "kcm --version prints KCM <version>"]],
  "d-usage-exit": [[HELP, "kcm usage errors exit 2 with a reason"]],
  "d-strict-numbers": [
    [CLI, "parseCommandLine() rejects mismatches with a reason"],
    [INIT, "kcm init rejects bad counts before touching anything"],
  ],
  "d-isolate-args": [
    [ISOLATE, "isolate gives its command every word after it"],
    [CLI, "parseCommandLine() gives isolate's command every word after it"],
  ],
  "d-one-line": [
    ["tests/commands/one_line_test.ts", "a tasks piece holding a newline"],
    ["tests/commands/one_line_test.ts", "names holding control characters"],
    ["tests/core/quote_test.ts", "every message quotes its values"],
  ],
  // Configuration directory
  "k-layout": [
    [DESCRIBE, "kcm describe prints the reference JSON byte for byte"],
    [
      "tests/core/config_create_test.ts",
      "createConfigDir() writes the reference layout",
    ],
    [
      "tests/core/config_read_test.ts",
      "parseTasks() follows the reference format",
    ],
    [
      "tests/core/config_lock_test.ts",
      "lockConfig() is a flock(2) another process respects",
    ],
  ],
  "k-name-order": [
    [
      "tests/core/config_read_test.ts",
      "readConfig() reads pools and lists in code point order",
    ],
    [RECONCILE, "reconcile lists entries of one pid in code point order"],
    [NODE_REPORT, "node-report orders overlaps by code point"],
  ],
  "k-flag-where-read": [
    [RECONCILE, "reconcile reclaims in pools without an exclusive file"],
    [DISCOVER, "a dataplane pool without an exclusive file is counted"],
    [DESCRIBE, "kcm describe on a bad config dir"],
    [ISOLATE, "isolate refuses a malformed config directory"],
  ],
  "k-non-utf8": [
    [RAW, "describe prints a pool name that is not UTF-8"],
    [RAW, "reconcile reclaims a list below a pool name that is not UTF-8"],
    [RAW, "node-report checks and describes a pool name that is not UTF-8"],
    [RAW, "a cpu-list name that is not UTF-8 is one error line"],
    [
      "tests/core/file_names_test.ts",
      "decodeFileName() decodes as Python's os.fsdecode",
    ],
  ],
  "k-owner-kept": [
    [
      "tests/commands/ownership_test.ts",
      "isolate and reconcile keep a tasks file's owner and mode",
    ],
  ],
  "d-atomic-tasks": [
    [
      "tests/core/config_write_test.ts",
      "writeTasks() and removeTask() rewrite tasks atomically",
    ],
    [
      "tests/core/atomic_write_test.ts",
      "writeFileAtomic() and writeFilesAtomic() on a full disk",
    ],
    [
      "tests/system/kill9_test.ts",
      "kill -9 at random moments: the config always parses",
    ],
  ],
  "d-stale-temps": [
    [RECONCILE, "reconcile removes temporary files a killed writer left"],
  ],
  "d-shared-lock": [
    [DESCRIBE, "kcm describe works on a read-only mount (shared lock)"],
    [
      "tests/core/config_lock_test.ts",
      "lockConfig() excludes writers, shares among readers",
    ],
  ],
  "d-lock-timeout": [
    [ISOLATE, "isolate gives up on a lock held past KCM_LOCK_TIMEOUT"],
    [HELP, "kcm rejects a bad KCM_LOG_LEVEL or KCM_LOCK_TIMEOUT"],
  ],
  "d-list-names-checked": [
    [
      "tests/commands/list_names_test.ts",
      "cpu-list names 01, 3-1 and 8192 are refused by every command",
    ],
  ],
  "d-tasks-strict": [
    [
      "tests/core/config_read_test.ts",
      "parseTasks() follows the reference format",
    ],
  ],
  // JSON output
  "k-json-format": [
    [
      "tests/core/json_test.ts",
      "formatJson() matches a model of the reference's rules",
    ],
    [
      "tests/commands/describe_property_test.ts",
      "describe prints what the reference printed",
    ],
  ],
  "k-describe-shape": [
    [DESCRIBE, "kcm describe prints the reference JSON byte for byte"],
    [
      "tests/commands/describe_property_test.ts",
      "kcm describe through the CLI prints the same bytes",
    ],
  ],
  // init
  "k-init-layout": [
    [LAYOUT, "planLayout() reproduces the reference's worked examples"],
    [
      LAYOUT,
      "planPools() without isolated CPUs or modes is the reference layout",
    ],
  ],
  "d-init-sysfs": [
    [
      LAYOUT,
      "planPools() gives dataplane and controlplane only fully isolated cores",
    ],
    [
      "tests/core/topology_file_test.ts",
      "readTopologyRecord() reads the record init wrote",
    ],
    [INIT, "kcm init reports an unreadable sysfs by file"],
  ],
  "d-init-atomic": [
    [
      "tests/core/config_create_test.ts",
      "createConfigDir() leaves nothing behind when it fails",
    ],
    [INIT, "kcm init refuses an initialized directory and changes nothing"],
  ],
  "d-init-counts": [
    [LAYOUT, "planLayout() allows counts of 0"],
    [LAYOUT, "planLayout() names needed and found cores when too few"],
  ],
  "d-name-max": [
    [LAYOUT, "planLayout() names a list over 255 bytes by its ranges (EPYC)"],
  ],
  "d-init-hugepages": [
    [INIT, "kcm init logs its steps and warns on no free hugepages"],
  ],
  // isolate
  "k-isolate-choice": [
    [
      ISOLATE,
      "isolate takes the first free list of an exclusive pool in name order",
    ],
    [ISOLATE, "isolate picks any list of a shared pool, taken or not"],
    [ISOLATE, "isolate records the pid from KCM_PROC_FS/self/stat"],
    [
      "tests/system/kill9_test.ts",
      "kill -9 of kcm while its child runs leaves the pid in tasks",
    ],
  ],
  "d-isolate-argv": [
    [ISOLATE, "isolate passes arguments as an argv, never through a shell"],
  ],
  "d-isolate-exit": [
    [ISOLATE, "isolate exits with the child's status and releases the list"],
    [ISOLATE, "isolate exits 127 for a command not found and 126"],
    [SIGNALS, "isolate exits 128+N when the forwarded signal kills the child"],
  ],
  "d-isolate-signals": [
    [
      SIGNALS,
      "isolate forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2",
    ],
    [SIGNALS, "isolate never leaks its cpu list on SIGTERM"],
  ],
  "d-isolate-full-pool": [
    [ISOLATE, "isolate refuses an unknown pool and a pool with no free list"],
  ],
  "d-isolate-affinity": [
    [ISOLATE, "isolate pins the child and every kcm thread"],
    [ISOLATE, "isolate --no-affinity leaves the mask alone"],
    [
      "tests/core/process_test.ts",
      "startChild() kills a child that may run outside the CPUs given",
    ],
  ],
  // reconcile
  "k-reconcile-report": [
    [RECONCILE, "reconcile reclaims dead pids and reports drifted masks"],
    [RECONCILE, "reconcile reports the same dead pid once per list holding it"],
    [
      RECONCILE,
      "reconcile with no tasks prints an empty report and never reads procfs",
    ],
  ],
  "d-loops": [
    [
      RECONCILE,
      "reconcile --interval=1 reports every second, survives a bad iteration",
    ],
    [
      "tests/commands/shutdown_test.ts",
      "SIGTERM ends a loop waiting for the config lock",
    ],
  ],
  // node-report
  "k-overlap-check": [
    [NODE_REPORT, "node-report prints the exact document"],
    [
      "tests/core/node_checks_test.ts",
      "findOverlaps() names each overlapping pair once, in name order",
    ],
  ],
  "d-overlap-cpus": [
    [
      NODE_REPORT,
      "node-report prints the exact document, overlaps quoting the CPUs in both lists",
    ],
  ],
  "d-extra-checks": [
    [NODE_REPORT, "node-report taskAffinity flags live tasks"],
    [NODE_REPORT, "node-report cpuListsOnline flags CPUs"],
    [NODE_REPORT, "node-report exclusiveCores flags exclusive lists"],
  ],
  "d-report-read-errors": [
    [NODE_REPORT, "node-report sets a bad entry aside"],
    [NODE_REPORT, "node-report without pools/ gives description null"],
    [NODE_REPORT, "node-report with a pool without an exclusive file"],
  ],
  "d-report-locked": [
    [NODE_REPORT, "node-report reads under a shared lock"],
  ],
  // discover
  "d-discover-resource": [
    [DISCOVER, "patches capacity, label and taint, keeping taints"],
  ],
  "d-discover-empty": [
    [DISCOVER, "an empty dataplane pool advertises 0, with a warning"],
    [DISCOVER, "a missing dataplane pool fails before any API call"],
  ],
  "d-discover-errors": [
    [DISCOVER, "a missing node is a clear error"],
    [DISCOVER, "an RBAC denial names the verb and resource"],
  ],
  // Kubernetes
  "d-cluster-init-checks": [
    [CLUSTER_INIT, "flag errors come before any API call"],
  ],
  "d-all-hosts": [
    [
      CLUSTER_INIT,
      "--all-hosts skips NotReady, cordoned and control-plane nodes",
    ],
  ],
  "d-cluster-init-pods": [
    [CLUSTER_INIT, "three nodes: config, binary, node patches, DaemonSet"],
    [CLUSTER_INIT, "a failing init names node, pod, container, reason, log"],
  ],
  "d-reports-crds": [
    [
      "tests/commands/publish_test.ts",
      "a NodeReport is created, owned by the Node",
    ],
    ["tests/resources_test.ts", "resources/ CRDs equal the ones kcm creates"],
    [
      "tests/commands/publish_faults_test.ts",
      "steady state: nothing is sent until the heartbeat",
    ],
  ],
  "d-node-name": [
    [
      "tests/core/k8s/node_name_test.ts",
      "nodeName() prefers NODE_NAME over the host name",
    ],
    [
      "tests/core/k8s/node_name_test.ts",
      "toObjectName() makes DNS-1123 subdomain names",
    ],
  ],
  "d-install": [
    [
      "tests/commands/install_test.ts",
      "installKcm() in compiled mode copies the running executable",
    ],
    [
      "tests/commands/install_test.ts",
      "kcm install from source writes a 0755 launcher",
    ],
  ],
  // Environment and exit status
  "k-log-format": [
    [INIT, "kcm init logs its steps and warns on no free hugepages"],
    [
      "tests/core/quote_test.ts",
      "createLogger() writes each message on one line",
    ],
  ],
  "d-log-level": [
    [HELP, "kcm refuses Python's level aliases and numbers in KCM_LOG_LEVEL"],
    [
      HELP,
      "kcm rejects a bad KCM_LOG_LEVEL or KCM_LOCK_TIMEOUT, takes any case",
    ],
  ],
  "d-proc-fs-default": [
    [RECONCILE, "reconcile on the real /proc reclaims a really dead pid"],
  ],
  "d-errors": [
    [DESCRIBE, "kcm describe on a bad config dir: one clear line, exit 1"],
    [
      NODE_REPORT,
      "node-report without a config directory exits 1 with one line",
    ],
  ],
  // Limits
  "l-non-utf8-argv": [
    [RAW, "a pool name that is not UTF-8 cannot be named on the command line"],
  ],
  "l-owner-needs-root": [
    [
      "tests/core/atomic_write_test.ts",
      "writeFileAtomic() with keepOwnership gives the new file",
    ],
  ],
};

const doc = await Deno.readTextFile(join(REPO_ROOT, "docs/reference.md"));

Deno.test("docs/reference.md and this test list the same tags", () => {
  const tags = [...doc.matchAll(/^- \[([kdl]-[a-z0-9-]+)\] /gm)].map((m) =>
    m[1]!
  );
  assert.equal(new Set(tags).size, tags.length, "a tag is listed twice");
  assert.deepEqual([...tags].sort(), Object.keys(COVERAGE).sort());
});

Deno.test("every test docs/reference.md relies on exists", async () => {
  const missing: string[] = [];
  for (const [tag, tests] of Object.entries(COVERAGE)) {
    assert.ok(tests.length > 0, `${tag} has no test`);
    for (const [file, name] of tests) {
      const source = await Deno.readTextFile(join(REPO_ROOT, file));
      // The name opens a string literal: a test's name, not a comment.
      if (!source.includes(`"${name}`)) {
        missing.push(`${tag}: ${file}: ${name}`);
      }
    }
  }
  assert.deepEqual(missing, []);
});
