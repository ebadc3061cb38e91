/**
 * The floor of `kcm reconcile`: a naive loop that only reads every tasks
 * file of a config directory and stats every `<procfs>/<pid>` they name.
 * No lock, no parsing beyond splitting on commas, no writes, no report.
 *
 * Usage: deno run --allow-all bench/floor_reconcile.ts <conf-dir> [procfs]
 */

/** What the floor saw. */
export interface FloorCounts {
  readonly lists: number;
  readonly pids: number;
  readonly alive: number;
}

/** Reads every tasks file below `confDir` and stats every pid in `procRoot`. */
export function floorReconcile(confDir: string, procRoot: string): FloorCounts {
  let lists = 0, pids = 0, alive = 0;
  const poolsDir = `${confDir}/pools`;
  for (const pool of Deno.readDirSync(poolsDir)) {
    if (!pool.isDirectory) continue;
    for (const list of Deno.readDirSync(`${poolsDir}/${pool.name}`)) {
      if (!list.isDirectory) continue;
      lists++;
      const text = Deno.readTextFileSync(
        `${poolsDir}/${pool.name}/${list.name}/tasks`,
      );
      for (const pid of text.split(",")) {
        if (pid.trim() === "") continue;
        pids++;
        try {
          Deno.lstatSync(`${procRoot}/${pid.trim()}`);
          alive++;
        } catch {
          // dead
        }
      }
    }
  }
  return { lists, pids, alive };
}

if (import.meta.main) {
  const [confDir = "/etc/kcm", procRoot = "/proc"] = Deno.args;
  const counts = floorReconcile(confDir, procRoot);
  // deno-lint-ignore no-console
  console.log(JSON.stringify(counts));
}
