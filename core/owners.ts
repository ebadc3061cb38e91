/**
 * The `owners` file beside a cpu list's `tasks`: for each pid kcm recorded
 * there, the process's start time and the claim it belongs to, so that
 * `reconcile` can tell a reused pid from the recorded process, and a list
 * whose `isolate` died while its command still runs from a free one.
 *
 * The original tool reads only `tasks` and never looks at other files of a
 * cpu-list directory, so it neither sees nor updates this one. It rewrites
 * `tasks` in place, though, and could leave an `owners` that describes an
 * older `tasks`: a pid it recorded later could then match a stale entry
 * and be judged dead. So each `owners` names the `tasks` files it
 * describes (inode, modification time in ms, content; a rewrite in place
 * changes the time, a rename the inode) and is ignored when `tasks` is
 * none of them. It names two: kcm writes the new `owners` before renaming
 * the new `tasks` into place, so it must describe both the `tasks` before
 * and the one after, or a kcm killed between the two renames would leave
 * an `owners` that matches neither. Pure.
 *
 * Format, one JSON object (`tasks` as written, pids as strings):
 *
 * ```
 * {"version":1,"stamps":[{"ino":1234,"mtimeMs":1700000000000,"tasks":"4242"}],
 *  "pids":{"4242":{"start":885001,"claim":"4242-885001"}}}
 * ```
 */

/** Which `tasks` file an `owners` file describes. */
export interface TasksStamp {
  readonly ino: number;
  readonly mtimeMs: number;
  /** The `tasks` content, exactly. */
  readonly tasks: string;
}

/** What kcm knows of one recorded pid. */
export interface OwnerRecord {
  /** Start time in clock ticks after boot, from the procfs kcm records with. */
  readonly start: number;
  /** The claim file (core/claim_file.ts) of the `isolate` that recorded it. */
  readonly claim: string;
}

/** The content of an `owners` file. */
export interface Owners {
  readonly stamps: readonly TasksStamp[];
  readonly pids: ReadonlyMap<number, OwnerRecord>;
}

/** The name of the file, inside a cpu-list directory. */
export const OWNERS_FILE = "owners";

const CLAIM_ID = /^[1-9][0-9]{0,9}-[0-9]{1,20}$/;

/**
 * The id of the claim of the process `pid` started at `start`: unique for
 * as long as the machine runs, and a plain file name.
 *
 * @example
 * ```ts
 * import { claimId } from "./owners.ts";
 * import assert from "node:assert/strict";
 * assert.equal(claimId({ pid: 4242, start: 885001 }), "4242-885001");
 * ```
 */
export function claimId(process: { pid: number; start: number }): string {
  return `${process.pid}-${process.start}`;
}

/** True for a string {@linkcode claimId} could have made. */
export function isClaimId(text: string): boolean {
  return CLAIM_ID.test(text);
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) &&
    value >= 0;
}

function parseStamp(value: unknown): TasksStamp | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { ino, mtimeMs, tasks } = value as Record<string, unknown>;
  if (!isCount(ino) || !isCount(mtimeMs) || typeof tasks !== "string") {
    return undefined;
  }
  return { ino, mtimeMs, tasks };
}

/**
 * Parses an `owners` file; undefined for anything that is not one (a
 * damaged or foreign file is ignored, as if there were none).
 *
 * @example
 * ```ts
 * import { formatOwners, parseOwners } from "./owners.ts";
 * import assert from "node:assert/strict";
 * const owners = {
 *   stamps: [{ ino: 7, mtimeMs: 1000, tasks: "42" }],
 *   pids: new Map([[42, { start: 99, claim: "42-99" }]]),
 * };
 * assert.deepEqual(parseOwners(formatOwners(owners)), owners);
 * assert.equal(parseOwners("garbage"), undefined);
 * ```
 */
export function parseOwners(text: string): Owners | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const { version, stamps, pids } = value as Record<string, unknown>;
  if (version !== 1 || !Array.isArray(stamps)) return undefined;
  if (typeof pids !== "object" || pids === null) return undefined;
  const parsedStamps: TasksStamp[] = [];
  for (const stamp of stamps) {
    const parsed = parseStamp(stamp);
    if (parsed === undefined) return undefined;
    parsedStamps.push(parsed);
  }
  const records = new Map<number, OwnerRecord>();
  for (const [key, record] of Object.entries(pids)) {
    const pid = Number(key);
    if (!/^[1-9][0-9]{0,9}$/.test(key)) return undefined;
    if (typeof record !== "object" || record === null) return undefined;
    const { start, claim } = record as Record<string, unknown>;
    if (!isCount(start) || typeof claim !== "string" || !isClaimId(claim)) {
      return undefined;
    }
    records.set(pid, { start, claim });
  }
  return { stamps: parsedStamps, pids: records };
}

/** The text of an `owners` file. */
export function formatOwners(owners: Owners): string {
  const pids: Record<string, OwnerRecord> = {};
  for (const [pid, record] of owners.pids) {
    pids[String(pid)] = { start: record.start, claim: record.claim };
  }
  return JSON.stringify({
    version: 1,
    stamps: owners.stamps.map((s) => ({
      ino: s.ino,
      mtimeMs: s.mtimeMs,
      tasks: s.tasks,
    })),
    pids,
  }) + "\n";
}

/** True when `owners` describes the `tasks` file `stamp` was taken of. */
export function describesTasks(owners: Owners, stamp: TasksStamp): boolean {
  return owners.stamps.some((s) =>
    s.ino === stamp.ino && s.mtimeMs === stamp.mtimeMs &&
    s.tasks === stamp.tasks
  );
}

/** What a rewrite of one `tasks` file changes. */
export interface OwnersChange {
  /** The records valid for the `tasks` being replaced (none if unknown). */
  readonly previous: ReadonlyMap<number, OwnerRecord>;
  /** The stamp of the `tasks` being replaced; undefined when there is none. */
  readonly before: TasksStamp | undefined;
  /** The pids of the `tasks` being replaced. */
  readonly oldTasks: readonly number[];
  /** The pids of the new `tasks`. */
  readonly newTasks: readonly number[];
  /** Records of pids the rewrite adds. */
  readonly added: ReadonlyMap<number, OwnerRecord>;
  /** The stamp of the new `tasks` (its temporary file, before the rename). */
  readonly after: TasksStamp;
}

/**
 * The `owners` to write with a `tasks` rewrite: valid for the `tasks`
 * before and after it, with a record for every pid of either that has one.
 *
 * @example
 * ```ts
 * import { nextOwners } from "./owners.ts";
 * import assert from "node:assert/strict";
 * const after = { ino: 8, mtimeMs: 2000, tasks: "5,6" };
 * const next = nextOwners({
 *   previous: new Map([[5, { start: 1, claim: "5-1" }]]),
 *   before: { ino: 7, mtimeMs: 1000, tasks: "5" },
 *   oldTasks: [5],
 *   newTasks: [5, 6],
 *   added: new Map([[6, { start: 2, claim: "6-2" }]]),
 *   after,
 * });
 * assert.deepEqual([...next.pids.keys()], [5, 6]);
 * assert.equal(next.stamps.length, 2);
 * ```
 */
export function nextOwners(change: OwnersChange): Owners {
  const pids = new Map<number, OwnerRecord>();
  for (const pid of [...change.oldTasks, ...change.newTasks]) {
    const record = change.added.get(pid) ?? change.previous.get(pid);
    if (record !== undefined) pids.set(pid, record);
  }
  const stamps = change.before === undefined
    ? [change.after]
    : [change.before, change.after];
  return { stamps, pids };
}
