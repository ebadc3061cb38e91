import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigError, SysfsError } from "../../core/errors.ts";
import { readIsolatedCpus, readTopology } from "../../core/sysfs.ts";
import { topologyRecordPath } from "../../core/record_file.ts";
import {
  TOPOLOGY_FILE,
  TopologyRecordError,
} from "../../core/record_document.ts";
import { loadTopology, readTopologyRecord } from "../../core/topology_file.ts";
import { formatTopologyRecord } from "../../core/topology_record.ts";
import { REPO_ROOT, runKcm } from "../_helpers/run_cli.ts";
import { makeConfigDir } from "../_helpers/temp_config_dir.ts";

const FIXTURES = join(REPO_ROOT, "tests/fixtures/sysfs");
const SNC = join(FIXTURES, "dual_snc2_2x20x2");
const EPYC = join(FIXTURES, "epyc_2x64x2_nps4");

/** A config dir made by the 2017 tool: pools only, no topology record. */
function legacyConfig() {
  return makeConfigDir({
    dataplane: { exclusive: true, lists: { "39,79": "", "38,78": "" } },
    infra: { exclusive: false, lists: { "0-37,40-77": "" } },
  });
}

Deno.test("readTopologyRecord() gives undefined for a directory without one", async () => {
  await using config = await legacyConfig();
  assert.equal(readTopologyRecord(config.confDir), undefined);
  assert.equal(
    topologyRecordPath(config.confDir),
    join(config.confDir, TOPOLOGY_FILE),
  );
});

Deno.test("readTopologyRecord() reads the record init wrote", async () => {
  await using config = await legacyConfig();
  const topology = await readTopology(EPYC);
  const isolated = await readIsolatedCpus(EPYC);
  await Deno.writeTextFile(
    topologyRecordPath(config.confDir),
    formatTopologyRecord({ topology, isolated }),
  );
  const record = readTopologyRecord(config.confDir);
  assert.deepEqual(record?.topology.cpus, topology.cpus);
  assert.equal(record?.isolated.toString(), "68-127,195-255");
});

Deno.test("readTopologyRecord() fails on a bad record, naming the file and the field", async () => {
  await using config = await legacyConfig();
  const file = topologyRecordPath(config.confDir);
  await Deno.writeTextFile(file, '{"version": 1, "isolated": "", "cores": 3}');
  assert.throws(
    () => readTopologyRecord(config.confDir),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.equal(error.exitCode, 1);
      assert.equal(
        error.message,
        `Cannot parse topology record "${file}": cores: missing, or not an array`,
      );
      assert.ok(error.cause instanceof TopologyRecordError);
      assert.match(error.hint ?? "", /remove .*topology\.json/);
      return true;
    },
  );
});

Deno.test("readTopologyRecord() fails when the record cannot be read", async () => {
  await using config = await legacyConfig();
  const file = topologyRecordPath(config.confDir);
  await Deno.mkdir(file);
  assert.throws(
    () => readTopologyRecord(config.confDir),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.message ===
        `Cannot read topology record "${file}": it is a directory, not a regular file`,
  );
});

Deno.test("loadTopology() prefers the record and never reads sysfs then", async () => {
  await using config = await legacyConfig();
  const topology = await readTopology(SNC);
  await Deno.writeTextFile(
    topologyRecordPath(config.confDir),
    formatTopologyRecord({ topology, isolated: await readIsolatedCpus(SNC) }),
  );
  const loaded = await loadTopology(config.confDir, "/nonexistent/kcm-sysfs");
  assert.equal(loaded.source, "record");
  assert.deepEqual(loaded.topology.numaNodes(), [0, 1, 2, 3]);
  assert.equal(loaded.isolated.toString(), "10-39,50-79");
});

Deno.test("loadTopology() reads sysfs once for a directory the 2017 tool made", async () => {
  await using config = await legacyConfig();
  const loaded = await loadTopology(config.confDir, SNC);
  assert.equal(loaded.source, "sysfs");
  assert.deepEqual(loaded.topology.cpus, (await readTopology(SNC)).cpus);
  assert.equal(loaded.isolated.toString(), "10-39,50-79");
  // The fallback writes nothing into the directory.
  assert.equal(readTopologyRecord(config.confDir), undefined);
  await assert.rejects(
    loadTopology(config.confDir, "/nonexistent/kcm-sysfs"),
    SysfsError,
  );
});

Deno.test("kcm describe prints the same bytes with or without a topology record", async () => {
  await using config = await legacyConfig();
  const before = await runKcm(["describe", `--conf-dir=${config.confDir}`]);
  assert.equal(before.code, 0, before.stderr);
  await Deno.writeTextFile(
    topologyRecordPath(config.confDir),
    formatTopologyRecord({
      topology: await readTopology(SNC),
      isolated: await readIsolatedCpus(SNC),
    }),
  );
  const after = await runKcm(["describe", `--conf-dir=${config.confDir}`]);
  assert.deepEqual(after, before);
});
