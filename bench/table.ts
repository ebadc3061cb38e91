/**
 * The one results table of `deno task bench`: a row per measured figure,
 * kcm beside its baseline, the ratio and whether the target was met.
 */

import { formatMs } from "./measure.ts";

/** One line of the results table. */
export interface Row {
  readonly benchmark: string;
  /** kcm's figure, formatted (a median unless the name says otherwise). */
  readonly kcm: string;
  /** What kcm is compared with, and its figure. */
  readonly baseline: string;
  readonly baselineValue: string;
  /** kcm / baseline (for times: > 1 means kcm is slower). */
  readonly ratio: number;
  /** The target as text, "" when the row only informs. */
  readonly target: string;
  /** Whether the target is met; undefined when there is none. */
  readonly met: boolean | undefined;
}

function cell(text: string): string {
  return text.replaceAll("|", "\\|");
}

/** Formats rows as a markdown table. */
export function formatTable(rows: readonly Row[]): string {
  const lines = [
    "| benchmark | kcm | baseline | baseline value | ratio | target | met? |",
    "|---|---:|---|---:|---:|---|---|",
  ];
  for (const row of rows) {
    const ratio = Number.isFinite(row.ratio) ? `${row.ratio.toFixed(2)}x` : "";
    const met = row.met === undefined ? "" : row.met ? "yes" : "**no**";
    lines.push(
      `| ${
        [
          row.benchmark,
          row.kcm,
          row.baseline,
          row.baselineValue,
          ratio,
          row.target,
          met,
        ].map(cell).join(" | ")
      } |`,
    );
  }
  return lines.join("\n");
}

/** A row comparing two times (ms): ratio kcm / baseline, met when <= target. */
export function timeRow(
  benchmark: string,
  kcm: number,
  baseline: string,
  base: number,
  target?: number,
): Row {
  return {
    benchmark,
    kcm: formatMs(kcm),
    baseline,
    baselineValue: formatMs(base),
    ratio: kcm / base,
    target: target === undefined ? "" : `<= ${target}x`,
    met: target === undefined ? undefined : kcm / base <= target,
  };
}
