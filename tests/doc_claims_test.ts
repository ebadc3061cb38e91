/**
 * Claims the documentation makes about behaviour, each checked against the
 * behaviour: the sentence must still be in the document, and kcm must still
 * do what it says. When one of them changes, this test says which claim to
 * update.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { REPO_ROOT, runKcm } from "./_helpers/run_cli.ts";
import { makeConfigDir } from "./_helpers/temp_config_dir.ts";

const XEON = join(REPO_ROOT, "tests/fixtures/sysfs/xeon_d_1x8x2");

async function doc(path: string): Promise<string> {
  // Prose is wrapped at 80 columns: compare with single spaces.
  return (await Deno.readTextFile(join(REPO_ROOT, path))).replace(/\s+/g, " ");
}

Deno.test("docs/config.md: names in code point order, pids in file order", async () => {
  assert.ok(
    (await doc("docs/config.md")).includes(
      "Pools and cpu lists are listed in code point order of their names everywhere they are printed",
    ),
  );
  assert.ok((await doc("docs/config.md")).includes("pids in file order"));
  await using conf = await makeConfigDir({
    p: { exclusive: false, lists: { "4,12": "300,20,1000", "10,30": "" } },
  });
  const result = await runKcm(["describe", `--conf-dir=${conf.confDir}`]);
  assert.equal(result.code, 0, result.stderr);
  const lists = JSON.parse(result.stdout).pools.p.cpuLists;
  assert.deepEqual(Object.keys(lists), ["10,30", "4,12"]);
  assert.deepEqual(lists["4,12"].tasks, [300, 20, 1000]);
});

Deno.test("README: each dataplane list is one physical core with all its online hyperthreads", async () => {
  assert.ok(
    (await doc("README.md")).includes(
      "each list of the exclusive `dataplane` pool is one physical core with all its online hyperthreads",
    ),
  );
  const root = await Deno.makeTempDir({ prefix: "kcm-doc-" });
  try {
    const confDir = join(root, "kcm");
    const env = { KCM_SYS_FS: XEON, KCM_LOG_LEVEL: "WARNING" };
    const init = await runKcm(
      ["init", `--conf-dir=${confDir}`, "--num-dp-cores=4"],
      { env },
    );
    assert.equal(init.code, 0, init.stderr);
    const described = await runKcm(["describe", `--conf-dir=${confDir}`]);
    const lists = Object.keys(
      JSON.parse(described.stdout).pools.dataplane.cpuLists,
    );
    assert.equal(lists.length, 4);
    // A physical core: the online CPUs with one package, die and core id.
    const cpuDir = join(XEON, "devices/system/cpu");
    const coreOf = async (cpu: number) => {
      const read = (name: string) =>
        Deno.readTextFile(join(cpuDir, `cpu${cpu}/topology/${name}`));
      return (await Promise.all(
        ["physical_package_id", "die_id", "core_id"].map(read),
      )).map((t) => t.trim()).join("/");
    };
    const online = (await Deno.readTextFile(join(cpuDir, "online"))).trim();
    assert.equal(online, "0-15");
    const cores = new Map<string, number[]>();
    for (let cpu = 0; cpu <= 15; cpu++) {
      const core = await coreOf(cpu);
      cores.set(core, [...cores.get(core) ?? [], cpu]);
    }
    for (const list of lists) {
      const cpus = list.split(",").map(Number).sort((a, b) => a - b);
      assert.deepEqual(cpus, cores.get(await coreOf(cpus[0]!)), list);
      assert.equal(cpus.length, 2, `${list}: the fixture has 2 threads a core`);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("docs/operator.md: changing the layout needs uninstall first; init never overwrites", async () => {
  const text = await doc("docs/operator.md");
  assert.ok(
    text.includes(
      "the configuration directory is created only by `init`, and a rerun with other sizes fails for that node",
    ),
  );
  assert.ok(text.includes("`kcm uninstall` on the node"));
  const root = await Deno.makeTempDir({ prefix: "kcm-doc-" });
  try {
    const confDir = join(root, "kcm");
    const env = { KCM_SYS_FS: XEON, KCM_LOG_LEVEL: "WARNING" };
    const init = (...flags: string[]) =>
      runKcm(["init", `--conf-dir=${confDir}`, ...flags], { env });
    assert.equal((await init("--num-dp-cores=2")).code, 0);
    const again = await init("--num-dp-cores=3");
    assert.equal(again.code, 1);
    const kept = await init("--num-dp-cores=3", "--keep-existing");
    assert.equal(kept.code, 1);
    assert.match(kept.stderr, /exists with another layout/);
    const removed = await runKcm(
      [
        "uninstall",
        `--conf-dir=${confDir}`,
        `--install-dir=${root}/bin`,
        "--local",
      ],
      { env },
    );
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal((await init("--num-dp-cores=3")).code, 0);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** `resource` -> verbs, per identity, from resources/rbac.yaml. */
async function grantedRights(): Promise<Map<string, Map<string, Set<string>>>> {
  const text = await Deno.readTextFile(join(REPO_ROOT, "resources/rbac.yaml"));
  const rights = new Map<string, Map<string, Set<string>>>();
  for (const document of parseAllDocuments(text)) {
    const object = document.toJS();
    if (object?.kind !== "Role" && object?.kind !== "ClusterRole") continue;
    const identity = object.metadata.name.startsWith("kcm-installer")
      ? "installer"
      : "node agent";
    const byResource = rights.get(identity) ?? new Map();
    rights.set(identity, byResource);
    for (const rule of object.rules) {
      if (rule.resourceNames) continue; // the table's "exactly ..." rows
      for (const resource of rule.resources) {
        const verbs = byResource.get(resource) ?? new Set<string>();
        for (const verb of rule.verbs) verbs.add(verb);
        byResource.set(resource, verbs);
      }
    }
  }
  return rights;
}

/** The first cells of the rights table that follows `heading` in operator.md. */
async function documentedRights(heading: string): Promise<string[]> {
  const text = await Deno.readTextFile(join(REPO_ROOT, "docs/operator.md"));
  const after = text.slice(text.indexOf(heading));
  const table = after.slice(after.indexOf("| Right"));
  const rows: string[] = [];
  for (const line of table.split("\n").slice(2)) {
    if (!line.startsWith("|")) break;
    rows.push(line.split("|")[1]!.trim());
  }
  return rows;
}

Deno.test("docs/operator.md: the identities' rights tables match resources/rbac.yaml", async () => {
  const granted = await grantedRights();
  const VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"];
  for (
    const [identity, heading] of [
      ["node agent", "**Node agent**"],
      ["installer", "**Installer**"],
    ] as const
  ) {
    const rows = await documentedRights(heading);
    assert.ok(rows.length > 0, `no rights table for the ${identity}`);
    // Every right granted is documented, in a row naming its resource.
    for (const [resource, verbs] of granted.get(identity)!) {
      const row = rows.find((r) => r.includes(`\`${resource}\``));
      assert.ok(row, `${identity}: ${resource} is granted but not documented`);
      for (const verb of verbs) {
        assert.match(
          row,
          new RegExp(`\\b${verb}\\b`),
          `${identity}: ${resource} ${verb}`,
        );
      }
    }
    // Every verb a row documents is granted on one of its resources.
    for (const row of rows) {
      if (row.startsWith("delete of exactly")) continue;
      const resources = [...row.matchAll(/`([a-z./]+)`/g)].map((m) => m[1]!)
        .filter((r) => granted.get(identity)!.has(r));
      assert.ok(
        resources.length > 0,
        `${identity}: nothing granted for ${row}`,
      );
      for (
        const verb of VERBS.filter((v) => new RegExp(`\\b${v}\\b`).test(row))
      ) {
        assert.ok(
          resources.some((r) => granted.get(identity)!.get(r)!.has(verb)),
          `${identity}: "${row}" documents ${verb}, not granted`,
        );
      }
    }
  }
});
