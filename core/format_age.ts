/**
 * Durations in the notation `kubectl get` uses for ages. Pure.
 */

/**
 * `seconds` the way the API server prints the age of a `date` column
 * (apimachinery's `HumanDuration`), so `Stale-After` and `Updated` compare
 * by eye: `45s`, `5m30s`, `12m`, `4h5m`, `9h`, `3d4h`, `20d`.
 *
 * @example
 * ```ts
 * import { formatAge } from "./format_age.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual([90, 330, 600, 7500, 14700, 36000, 273600].map(formatAge),
 *   ["90s", "5m30s", "10m", "125m", "4h5m", "10h", "3d4h"]);
 * ```
 */
export function formatAge(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 120) return `${Math.max(s, 0)}s`;
  const minutes = Math.floor(s / 60);
  const unit = (value: number, big: string, rest: number, small: string) =>
    rest === 0 ? `${value}${big}` : `${value}${big}${rest}${small}`;
  if (minutes < 10) return unit(minutes, "m", s % 60, "s");
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(s / 3600);
  if (hours < 8) return unit(hours, "h", minutes % 60, "m");
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 8) return unit(days, "d", hours % 24, "h");
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  if (hours < 24 * 365 * 8) return unit(years, "y", days % 365, "d");
  return `${years}y`;
}
