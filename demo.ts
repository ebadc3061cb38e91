/**
 * `deno task demo`: kcm's main job on this machine, in a temp folder.
 * Sizes a layout to the cores found here, runs `init`, pins a command with
 * `isolate` and shows where it ran, then prints `describe`, `reconcile` and
 * `node-report`. Nothing outside the temp folder is touched.
 *
 * kcm runs with `--allow-all`: Deno grants reads of `/proc` and `/sys` only
 * with all permissions (denoland/deno#27564), and kcm must read both.
 */
// deno-lint-ignore-file no-console

import { join } from "node:path";
import { readTopology } from "./core/sysfs.ts";

const main = join(import.meta.dirname!, "main.ts");

async function kcm(...args: string[]): Promise<void> {
  const shown = args.map((a) => /[\s"'$&|;]/.test(a) ? `'${a}'` : a);
  console.log(`\n$ kcm ${shown.join(" ")}`);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--allow-all", main, ...args],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (code !== 0) throw new Error(`kcm ${args[0]} exited ${code}`);
}

const sysRoot = Deno.env.get("KCM_SYS_FS") || "/sys";
const cores = (await readTopology(sysRoot)).cores.length;
// Leave one core to infra, one to controlplane when there is room.
const controlplane = cores >= 3 ? 1 : 0;
const dataplane = Math.max(0, Math.min(4, cores - 1 - controlplane));
const dir = await Deno.makeTempDir({ prefix: "kcm-demo-" });
const confDir = join(dir, "kcm");
console.log(
  `${cores} physical cores here: ${dataplane} dataplane, ${controlplane} controlplane, the rest infra`,
);
try {
  await kcm(
    "init",
    `--conf-dir=${confDir}`,
    `--num-dp-cores=${dataplane}`,
    `--num-cp-cores=${controlplane}`,
  );
  if (dataplane > 0) {
    await kcm(
      "isolate",
      `--conf-dir=${confDir}`,
      "--pool=dataplane",
      "sh",
      "--",
      "-c",
      'echo "pinned to $KCM_CPUS_ASSIGNED:" && grep Cpus_allowed_list /proc/self/status',
    );
  }
  await kcm("describe", `--conf-dir=${confDir}`);
  await kcm("reconcile", `--conf-dir=${confDir}`);
  await kcm("node-report", `--conf-dir=${confDir}`);
} finally {
  await Deno.remove(dir, { recursive: true });
}
