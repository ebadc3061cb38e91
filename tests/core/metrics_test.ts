import assert from "node:assert/strict";
import {
  escapeLabelValue,
  formatSampleValue,
  MetricDefinitionError,
  MetricRegistry,
  PROMETHEUS_CONTENT_TYPE,
} from "../../core/metrics.ts";

Deno.test("MetricRegistry.format() writes the text format 0.0.4 exactly", () => {
  const registry = new MetricRegistry();
  const requests = registry.counter({
    name: "kcm_test_requests_total",
    help: "Requests handled",
    labelNames: ["verb", "code"],
  });
  const temperature = registry.gauge({
    name: "kcm_test_temperature_celsius",
    help: "Current temperature",
  });
  const duration = registry.histogram({
    name: "kcm_test_duration_seconds",
    help: "How long it took",
    labelNames: ["command"],
    buckets: [0.1, 1, 10],
  });
  registry.gauge({ name: "kcm_test_unset", help: "Never set" });

  requests.inc({ verb: "PUT", code: "200" });
  requests.inc({ verb: "PUT", code: "200" }, 2);
  requests.inc({ verb: "GET", code: "404" });
  temperature.set({}, -3.5);
  duration.observe({ command: "reconcile" }, 0.05);
  duration.observe({ command: "reconcile" }, 0.1); // on a bound: in it
  duration.observe({ command: "reconcile" }, 7);
  duration.observe({ command: "reconcile" }, 42); // above every bound
  duration.observe({ command: "node-report" }, 0.5);

  assert.equal(
    registry.format(),
    [
      "# HELP kcm_test_requests_total Requests handled",
      "# TYPE kcm_test_requests_total counter",
      'kcm_test_requests_total{verb="GET",code="404"} 1',
      'kcm_test_requests_total{verb="PUT",code="200"} 3',
      "# HELP kcm_test_temperature_celsius Current temperature",
      "# TYPE kcm_test_temperature_celsius gauge",
      "kcm_test_temperature_celsius -3.5",
      "# HELP kcm_test_duration_seconds How long it took",
      "# TYPE kcm_test_duration_seconds histogram",
      'kcm_test_duration_seconds_bucket{command="node-report",le="0.1"} 0',
      'kcm_test_duration_seconds_bucket{command="node-report",le="1"} 1',
      'kcm_test_duration_seconds_bucket{command="node-report",le="10"} 1',
      'kcm_test_duration_seconds_bucket{command="node-report",le="+Inf"} 1',
      'kcm_test_duration_seconds_sum{command="node-report"} 0.5',
      'kcm_test_duration_seconds_count{command="node-report"} 1',
      'kcm_test_duration_seconds_bucket{command="reconcile",le="0.1"} 2',
      'kcm_test_duration_seconds_bucket{command="reconcile",le="1"} 2',
      'kcm_test_duration_seconds_bucket{command="reconcile",le="10"} 3',
      'kcm_test_duration_seconds_bucket{command="reconcile",le="+Inf"} 4',
      'kcm_test_duration_seconds_sum{command="reconcile"} 49.15',
      'kcm_test_duration_seconds_count{command="reconcile"} 4',
      "# HELP kcm_test_unset Never set",
      "# TYPE kcm_test_unset gauge",
      "",
    ].join("\n"),
  );
  assert.equal(requests.get({ verb: "PUT", code: "200" }), 3);
  assert.equal(requests.get({ verb: "POST", code: "201" }), 0);
  assert.equal(duration.count({ command: "reconcile" }), 4);
  assert.equal(
    PROMETHEUS_CONTENT_TYPE,
    "text/plain; version=0.0.4; charset=utf-8",
  );
});

Deno.test("MetricRegistry.format() escapes label values and help text", () => {
  const registry = new MetricRegistry();
  registry.gauge({
    name: "kcm_test_info",
    help: 'Help with a \\ backslash,\na line feed and "quotes"',
    labelNames: ["pool"],
  }).set({ pool: 'odd\\pool "x"\nnext' }, 1);
  assert.equal(
    registry.format(),
    [
      // HELP escapes backslash and line feed only; quotes stay.
      '# HELP kcm_test_info Help with a \\\\ backslash,\\na line feed and "quotes"',
      "# TYPE kcm_test_info gauge",
      'kcm_test_info{pool="odd\\\\pool \\"x\\"\\nnext"} 1',
      "",
    ].join("\n"),
  );
  assert.equal(escapeLabelValue("plain-value_1"), "plain-value_1");
});

Deno.test("formatSampleValue() writes infinities, NaN and shortest decimals", () => {
  const cases: [number, string][] = [
    [0, "0"],
    [1, "1"],
    [0.1 + 0.2, "0.30000000000000004"],
    [1.5e-7, "1.5e-7"],
    [1764400000.123, "1764400000.123"],
    [Infinity, "+Inf"],
    [-Infinity, "-Inf"],
    [NaN, "NaN"],
  ];
  for (const [value, text] of cases) {
    assert.equal(formatSampleValue(value), text, String(value));
  }
});

Deno.test("Gauge.reset() drops series of things that are gone", () => {
  const registry = new MetricRegistry();
  const gauge = registry.gauge({
    name: "kcm_test_lists",
    help: "Lists",
    labelNames: ["pool"],
  });
  gauge.set({ pool: "a" }, 1);
  gauge.set({ pool: "b" }, 2);
  gauge.reset();
  gauge.set({ pool: "b" }, 3);
  assert.equal(gauge.get({ pool: "a" }), undefined);
  assert.match(registry.format(), /\nkcm_test_lists\{pool="b"\} 3\n$/);
});

Deno.test("Counter.advanceTo() follows an outside total but never goes down", () => {
  const registry = new MetricRegistry();
  const cpu = registry.counter({
    name: "process_cpu_seconds_total",
    help: "CPU",
  });
  cpu.advanceTo({}, 1.25);
  cpu.advanceTo({}, 1.25);
  cpu.advanceTo({}, 2);
  assert.equal(cpu.get(), 2);
  assert.throws(() => cpu.advanceTo({}, 1), RangeError);
  assert.throws(() => cpu.inc({}, -1), RangeError);
  assert.throws(() => cpu.inc({}, NaN), RangeError);
  assert.equal(cpu.get(), 2);
});

Deno.test("metrics refuse definitions that break the naming rules", () => {
  const cases: [string, (r: MetricRegistry) => unknown][] = [
    ["name with a dash", (r) => r.gauge({ name: "kcm-lists", help: "" })],
    ["name starting with a digit", (r) => r.gauge({ name: "1kcm", help: "" })],
    [
      "counter without _total",
      (r) => r.counter({ name: "kcm_reclaims", help: "" }),
    ],
    [
      "label with a dot",
      (r) => r.gauge({ name: "kcm_x", help: "", labelNames: ["pool.name"] }),
    ],
    [
      "reserved __ label",
      (r) => r.gauge({ name: "kcm_x", help: "", labelNames: ["__pool"] }),
    ],
    [
      "repeated label",
      (r) => r.gauge({ name: "kcm_x", help: "", labelNames: ["pool", "pool"] }),
    ],
    [
      "le on a histogram",
      (r) =>
        r.histogram({ name: "kcm_x_seconds", help: "", labelNames: ["le"] }),
    ],
    [
      "buckets out of order",
      (r) =>
        r.histogram({ name: "kcm_x_seconds", help: "", buckets: [1, 0.5] }),
    ],
    [
      "infinite bucket",
      (r) =>
        r.histogram({
          name: "kcm_x_seconds",
          help: "",
          buckets: [1, Infinity],
        }),
    ],
    [
      "no buckets",
      (r) => r.histogram({ name: "kcm_x_seconds", help: "", buckets: [] }),
    ],
    ["same name twice", (r) => {
      r.gauge({ name: "kcm_x", help: "" });
      return r.gauge({ name: "kcm_x", help: "" });
    }],
  ];
  for (const [what, define] of cases) {
    const error = (() => {
      try {
        define(new MetricRegistry());
      } catch (error) {
        return error;
      }
    })();
    assert.ok(error instanceof MetricDefinitionError, what);
  }
});

Deno.test("a series must carry exactly the defined labels", () => {
  const registry = new MetricRegistry();
  const gauge = registry.gauge({
    name: "kcm_test_lists",
    help: "Lists",
    labelNames: ["pool"],
  });
  assert.throws(() => gauge.set({}, 1), /takes labels \[pool\], got \[\]/);
  assert.throws(
    () => gauge.set({ pool: "a", node: "b" }, 1),
    /takes labels \[pool\], got \[pool, node\]/,
  );
  assert.throws(() => gauge.set({ node: "a" }, 1), RangeError);
  assert.equal(registry.format().split("\n").length, 3); // HELP, TYPE, ""
});

Deno.test("MetricRegistry.format() of an empty registry is empty", () => {
  assert.equal(new MetricRegistry().format(), "");
});
