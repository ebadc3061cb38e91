/**
 * Prometheus metrics kept in memory: counters, gauges and histograms with
 * labels, in a {@linkcode MetricRegistry} that formats them in the
 * Prometheus text exposition format, version 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/).
 *
 * Pure: no clock, no I/O. Names follow the Prometheus naming conventions
 * (https://prometheus.io/docs/practices/naming/): `[a-zA-Z_:][a-zA-Z0-9_:]*`,
 * counters end in `_total`, base units (`_seconds`, `_bytes`). A metric
 * defined against these rules is a programming error and throws
 * {@linkcode MetricDefinitionError} at definition time.
 */

import { quote } from "./quote.ts";

/** Label values of one series, by label name. */
export type Labels = Readonly<Record<string, string>>;

/** The media type of {@linkcode MetricRegistry.format}'s output. */
export const PROMETHEUS_CONTENT_TYPE =
  "text/plain; version=0.0.4; charset=utf-8";

/**
 * Buckets (seconds) of loop and request durations: Prometheus' default
 * buckets (5 ms to 10 s) plus 30 s and 60 s, since one iteration that
 * retries an unreachable API server takes that long.
 */
export const DURATION_BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
];

/** A metric or label name that breaks the Prometheus rules. */
export class MetricDefinitionError extends RangeError {
  /** The offending metric name. */
  readonly metric: string;

  constructor(metric: string, problem: string) {
    super(`Cannot define metric ${quote(metric)}: ${problem}`);
    this.name = "MetricDefinitionError";
    this.metric = metric;
  }
}

/** What every metric is defined with. */
export interface MetricDefinition {
  /** Full name, e.g. `kcm_pool_cpu_lists`. */
  readonly name: string;
  /** One line for `# HELP`. */
  readonly help: string;
  /** Names of the labels every series carries, in output order. */
  readonly labelNames?: readonly string[];
}

/** A histogram's definition: also its bucket upper bounds. */
export interface HistogramDefinition extends MetricDefinition {
  /** Upper bounds, increasing; `+Inf` is always added. */
  readonly buckets?: readonly number[];
}

type MetricType = "counter" | "gauge" | "histogram";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Escapes a label value: backslash, double quote and line feed.
 *
 * @example
 * ```ts
 * import { escapeLabelValue } from "./metrics.ts";
 * import assert from "node:assert/strict";
 * assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
 * ```
 */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => c === "\n" ? "\\n" : `\\${c}`);
}

function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => c === "\n" ? "\\n" : "\\\\");
}

/**
 * A sample value as the text format writes it: `+Inf`, `-Inf`, `NaN`, or
 * the shortest decimal that reads back as the same number.
 */
export function formatSampleValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** A counter, gauge or histogram: its definition and one series per label set. */
abstract class Metric<Series> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly type: MetricType;
  readonly #series = new Map<string, { labels: Labels; value: Series }>();

  constructor(definition: MetricDefinition) {
    this.name = definition.name;
    this.help = definition.help;
    this.labelNames = definition.labelNames ?? [];
    if (!METRIC_NAME.test(this.name)) {
      throw new MetricDefinitionError(this.name, "not a valid metric name");
    }
    for (const label of this.labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith("__")) {
        throw new MetricDefinitionError(
          this.name,
          `${quote(label)} is not a valid label name`,
        );
      }
    }
    if (new Set(this.labelNames).size !== this.labelNames.length) {
      throw new MetricDefinitionError(this.name, "a label name repeats");
    }
  }

  /** The series of `labels`, made with `fresh()` when it is new. */
  protected seriesFor(labels: Labels, fresh: () => Series): Series {
    const key = this.#key(labels);
    let entry = this.#series.get(key);
    if (entry === undefined) {
      const copy: Record<string, string> = {};
      for (const name of this.labelNames) copy[name] = labels[name]!;
      entry = { labels: copy, value: fresh() };
      this.#series.set(key, entry);
    }
    return entry.value;
  }

  /** The series of `labels`, if it was ever touched. */
  protected existing(labels: Labels): Series | undefined {
    return this.#series.get(this.#key(labels))?.value;
  }

  /** Forgets every series (for gauges of things that may disappear). */
  reset(): void {
    this.#series.clear();
  }

  /** Every series, ordered by label values. */
  protected allSeries(): { labels: Labels; value: Series }[] {
    return [...this.#series.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, entry]) => entry);
  }

  #key(labels: Labels): string {
    const given = Object.keys(labels);
    if (
      given.length !== this.labelNames.length ||
      !this.labelNames.every((name) => typeof labels[name] === "string")
    ) {
      throw new RangeError(
        `Metric ${quote(this.name)} takes labels [${
          this.labelNames.join(", ")
        }], ` +
          `got [${given.join(", ")}]`,
      );
    }
    return JSON.stringify(this.labelNames.map((name) => labels[name]));
  }

  /** The `{a="x",b="y"}` part of a sample line ("" without labels). */
  protected static labelText(
    labels: Labels,
    names: readonly string[],
    extra?: readonly [string, string],
  ): string {
    const pairs = names.map((name) =>
      `${name}="${escapeLabelValue(labels[name]!)}"`
    );
    if (extra) pairs.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
    return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
  }

  /** The sample lines of every series. */
  abstract samples(): string[];
}

/** A value that only goes up (reset only by a restart). */
export class Counter extends Metric<{ value: number }> {
  readonly type = "counter";

  constructor(definition: MetricDefinition) {
    super(definition);
    if (!this.name.endsWith("_total")) {
      throw new MetricDefinitionError(this.name, 'a counter ends in "_total"');
    }
  }

  /** Adds `by` (default 1, never negative). */
  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) {
      throw new RangeError(
        `Counter ${quote(this.name)} cannot go down (increment ${by})`,
      );
    }
    this.seriesFor(labels, () => ({ value: 0 })).value += by;
  }

  /**
   * Moves a series up to `total`, for counters kept elsewhere (CPU seconds
   * read from procfs). A smaller total is refused: counters never go down.
   */
  advanceTo(labels: Labels, total: number): void {
    const series = this.seriesFor(labels, () => ({ value: 0 }));
    if (!(total >= series.value)) {
      throw new RangeError(
        `Counter ${
          quote(this.name)
        } cannot go down (from ${series.value} to ${total})`,
      );
    }
    series.value = total;
  }

  /** Current value of a series (0 when never incremented). */
  get(labels: Labels = {}): number {
    return this.existing(labels)?.value ?? 0;
  }

  samples(): string[] {
    return this.allSeries().map(({ labels, value }) =>
      `${this.name}${Metric.labelText(labels, this.labelNames)} ${
        formatSampleValue(value.value)
      }`
    );
  }
}

/** A value that goes up and down. */
export class Gauge extends Metric<{ value: number }> {
  readonly type = "gauge";

  /** Sets a series. */
  set(labels: Labels, value: number): void {
    this.seriesFor(labels, () => ({ value: 0 })).value = value;
  }

  /** Current value of a series, undefined when never set. */
  get(labels: Labels = {}): number | undefined {
    return this.existing(labels)?.value;
  }

  samples(): string[] {
    return this.allSeries().map(({ labels, value }) =>
      `${this.name}${Metric.labelText(labels, this.labelNames)} ${
        formatSampleValue(value.value)
      }`
    );
  }
}

interface HistogramSeries {
  /** Observations per bucket (not cumulative), then the +Inf overflow. */
  counts: number[];
  sum: number;
  count: number;
}

/** Observations counted into cumulative buckets, with their sum and count. */
export class Histogram extends Metric<HistogramSeries> {
  readonly type = "histogram";
  /** Upper bounds, without `+Inf`. */
  readonly buckets: readonly number[];

  constructor(definition: HistogramDefinition) {
    super(definition);
    const buckets = definition.buckets ?? DURATION_BUCKETS;
    if (this.labelNames.includes("le")) {
      throw new MetricDefinitionError(this.name, '"le" is reserved');
    }
    if (
      buckets.length === 0 ||
      buckets.some((b, i) =>
        !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]!)
      )
    ) {
      throw new MetricDefinitionError(
        this.name,
        "buckets must be finite and increasing",
      );
    }
    this.buckets = [...buckets];
  }

  /** Counts one observation. */
  observe(labels: Labels, value: number): void {
    const series = this.seriesFor(labels, () => ({
      counts: new Array(this.buckets.length + 1).fill(0),
      sum: 0,
      count: 0,
    }));
    let index = this.buckets.findIndex((bound) => value <= bound);
    if (index === -1) index = this.buckets.length;
    series.counts[index]!++;
    series.sum += value;
    series.count++;
  }

  /** Number of observations of a series (0 when none). */
  count(labels: Labels = {}): number {
    return this.existing(labels)?.count ?? 0;
  }

  samples(): string[] {
    const lines: string[] = [];
    for (const { labels, value } of this.allSeries()) {
      let cumulative = 0;
      const bounds = [...this.buckets.map(formatSampleValue), "+Inf"];
      bounds.forEach((bound, i) => {
        cumulative += value.counts[i]!;
        lines.push(
          `${this.name}_bucket${
            Metric.labelText(labels, this.labelNames, ["le", bound])
          } ${cumulative}`,
        );
      });
      const text = Metric.labelText(labels, this.labelNames);
      lines.push(`${this.name}_sum${text} ${formatSampleValue(value.sum)}`);
      lines.push(`${this.name}_count${text} ${value.count}`);
    }
    return lines;
  }
}

/** The metrics of one process, formatted together. */
export class MetricRegistry {
  readonly #metrics = new Map<string, Counter | Gauge | Histogram>();

  /** Defines a counter. */
  counter(definition: MetricDefinition): Counter {
    return this.#add(new Counter(definition));
  }

  /** Defines a gauge. */
  gauge(definition: MetricDefinition): Gauge {
    return this.#add(new Gauge(definition));
  }

  /** Defines a histogram. */
  histogram(definition: HistogramDefinition): Histogram {
    return this.#add(new Histogram(definition));
  }

  #add<T extends Counter | Gauge | Histogram>(metric: T): T {
    if (this.#metrics.has(metric.name)) {
      throw new MetricDefinitionError(metric.name, "defined twice");
    }
    this.#metrics.set(metric.name, metric);
    return metric;
  }

  /**
   * Every metric in the text format 0.0.4, in definition order: `# HELP`,
   * `# TYPE`, then one line per sample; a metric without series writes
   * only its HELP and TYPE lines. Ends with a line feed.
   *
   * @example
   * ```ts
   * import { MetricRegistry } from "./metrics.ts";
   * import assert from "node:assert/strict";
   * const registry = new MetricRegistry();
   * registry.counter({ name: "kcm_demo_total", help: "Demo", labelNames: ["pool"] })
   *   .inc({ pool: "infra" }, 2);
   * assert.equal(
   *   registry.format(),
   *   '# HELP kcm_demo_total Demo\n# TYPE kcm_demo_total counter\nkcm_demo_total{pool="infra"} 2\n',
   * );
   * ```
   */
  format(): string {
    const lines: string[] = [];
    for (const metric of this.#metrics.values()) {
      lines.push(`# HELP ${metric.name} ${escapeHelp(metric.help)}`);
      lines.push(`# TYPE ${metric.name} ${metric.type}`);
      lines.push(...metric.samples());
    }
    return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
  }
}
