/**
 * Creating a config directory: the reference layout, an existing empty
 * directory (a mount point), refusals, and nothing left behind on failure.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { createConfigDir } from "../../core/config_create.ts";
import { readConfig } from "../../core/config_read.ts";
import { ConfigError } from "../../core/errors.ts";
import {
  listNames,
  makeConfigDir,
  snapshotTree,
} from "../_helpers/temp_config_dir.ts";

const POOLS = [
  { name: "dataplane", exclusive: true, cpuLists: ["3,7", "2,6"] },
  { name: "controlplane", exclusive: false, cpuLists: ["1,5"] },
  { name: "infra", exclusive: false, cpuLists: ["0,4"] },
];

Deno.test("createConfigDir() writes the reference layout", async () => {
  const root = await Deno.makeTempDir();
  try {
    const confDir = join(root, "a", "kcm");
    await createConfigDir(confDir, POOLS);
    const tree = await snapshotTree(confDir);
    assert.deepEqual([...tree.entries()].sort(), [
      ["lock", ""],
      ["pools/", ""],
      ["pools/controlplane/", ""],
      ["pools/controlplane/1,5/", ""],
      ["pools/controlplane/1,5/tasks", ""],
      ["pools/controlplane/exclusive", "0"],
      ["pools/dataplane/", ""],
      ["pools/dataplane/2,6/", ""],
      ["pools/dataplane/2,6/tasks", ""],
      ["pools/dataplane/3,7/", ""],
      ["pools/dataplane/3,7/tasks", ""],
      ["pools/dataplane/exclusive", "1"],
      ["pools/infra/", ""],
      ["pools/infra/0,4/", ""],
      ["pools/infra/0,4/tasks", ""],
      ["pools/infra/exclusive", "0"],
    ]);
    assert.deepEqual(
      await listNames(join(root, "a")),
      ["kcm"],
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("createConfigDir() fills an existing empty directory (a mount point)", async () => {
  const root = await Deno.makeTempDir();
  try {
    // What an interrupted init may leave: a lock and a staging folder.
    await Deno.writeTextFile(join(root, "lock"), "");
    await Deno.mkdir(join(root, ".kcm-init-999/pools/x"), { recursive: true });
    await createConfigDir(root, POOLS);
    const names = await listNames(root);
    assert.deepEqual(names, ["lock", "pools"]);
    assert.equal((readConfig(root)).pools.length, 3);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("createConfigDir() refuses an initialized or non-directory target", async () => {
  await using config = await makeConfigDir({});
  const before = await snapshotTree(config.confDir);
  await assert.rejects(
    createConfigDir(config.confDir, POOLS),
    new RegExp(`Config directory ${config.confDir} already initialized`),
  );
  assert.deepEqual(await snapshotTree(config.confDir), before);
  const file = join(config.root, "file");
  await Deno.writeTextFile(file, "");
  await assert.rejects(
    createConfigDir(file, POOLS),
    /exists and is not a directory/,
  );
});

Deno.test("createConfigDir() leaves nothing behind when it fails", async () => {
  const root = await Deno.makeTempDir();
  try {
    const bad = [{ name: "p", exclusive: false, cpuLists: ["0", "0"] }];
    await assert.rejects(createConfigDir(join(root, "kcm"), bad), ConfigError);
    assert.deepEqual(await listNames(root), []);
    await Deno.mkdir(join(root, "empty"));
    await assert.rejects(
      createConfigDir(join(root, "empty"), bad),
      ConfigError,
    );
    assert.deepEqual(
      await listNames(join(root, "empty")),
      [],
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

const RECORD = [{ name: "topology.json", text: '{"version": 1}\n' }];

Deno.test("createConfigDir() writes root files inside the tree it renames into place", async () => {
  const root = await Deno.makeTempDir();
  try {
    const confDir = join(root, "kcm");
    await createConfigDir(confDir, POOLS, { rootFiles: RECORD });
    assert.deepEqual(await listNames(confDir), [
      "lock",
      "pools",
      "topology.json",
    ]);
    assert.equal(
      await Deno.readTextFile(join(confDir, "topology.json")),
      '{"version": 1}\n',
    );
    assert.deepEqual(await listNames(root), ["kcm"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("createConfigDir() fills a mount point with root files, replacing an interrupted init's", async () => {
  const root = await Deno.makeTempDir();
  try {
    // An init killed between moving the record in and moving pools/ in.
    await Deno.writeTextFile(join(root, "lock"), "");
    await Deno.writeTextFile(join(root, "topology.json"), "half");
    await Deno.mkdir(join(root, ".kcm-init-999/pools"), { recursive: true });
    await createConfigDir(root, POOLS, { rootFiles: RECORD });
    assert.deepEqual(await listNames(root), ["lock", "pools", "topology.json"]);
    assert.equal(
      await Deno.readTextFile(join(root, "topology.json")),
      '{"version": 1}\n',
    );
    assert.equal(readConfig(root).pools.length, 3);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("createConfigDir() writes no root file when the pools fail", async () => {
  const root = await Deno.makeTempDir();
  try {
    const bad = [{ name: "p", exclusive: false, cpuLists: ["0", "0"] }];
    const options = { rootFiles: RECORD };
    await assert.rejects(
      createConfigDir(join(root, "kcm"), bad, options),
      ConfigError,
    );
    assert.deepEqual(await listNames(root), []);
    await Deno.mkdir(join(root, "empty"));
    await assert.rejects(
      createConfigDir(join(root, "empty"), bad, options),
      ConfigError,
    );
    assert.deepEqual(await listNames(join(root, "empty")), []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("createConfigDir() refuses root files named like the layout's own", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (const name of ["lock", "pools", "a/b", "", "..", ".kcm-init-1"]) {
      await assert.rejects(
        createConfigDir(join(root, "kcm"), POOLS, {
          rootFiles: [{ name, text: "" }],
        }),
        RangeError,
        name,
      );
    }
    assert.deepEqual(await listNames(root), []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
