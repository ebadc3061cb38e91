import assert from "node:assert/strict";
import { join } from "node:path";
import { ProcfsError } from "../../core/errors.ts";
import {
  parseBootTime,
  parseResidentBytes,
  parseStatTimes,
  readProcessSample,
} from "../../core/process_metrics.ts";

Deno.test("parseStatTimes() counts fields after the last parenthesis", () => {
  const rest = "S 1 9 9 0 -1 4194560 100 0 0 0 700 300 0 0 20 0 4 0 5000 1 2";
  assert.deepEqual(parseStatTimes(`9 (kcm) ${rest}`), {
    userTicks: 700,
    systemTicks: 300,
    startTicks: 5000,
  });
  // A command name with spaces and parentheses.
  assert.deepEqual(parseStatTimes(`9 (a) b (c)) ${rest}`), {
    userTicks: 700,
    systemTicks: 300,
    startTicks: 5000,
  });
  assert.equal(parseStatTimes("9 kcm S 1"), undefined);
  assert.equal(parseStatTimes("9 (kcm) S 1 2 3"), undefined); // too short
});

Deno.test("parseResidentBytes() and parseBootTime() read their lines", () => {
  assert.equal(
    parseResidentBytes("Name:\tkcm\nVmRSS:\t   51200 kB\nThreads:\t4\n"),
    51200 * 1024,
  );
  assert.equal(parseResidentBytes("Name:\tkcm\n"), undefined); // kernel thread
  assert.equal(
    parseBootTime("cpu  1 2 3\nbtime 1764400000\nprocesses 9\n"),
    1764400000,
  );
  assert.equal(parseBootTime("cpu  1 2 3\n"), undefined);
});

Deno.test("readProcessSample() reads this process from /proc", async () => {
  const before = Date.now() / 1000;
  const sample = await readProcessSample();
  const status = await Deno.readTextFile("/proc/self/status");
  const rss = Number(/^VmRSS:\s+(\d+)/m.exec(status)![1]) * 1024;
  // Within 50 % of an independent read (the heap moves in between).
  assert.ok(
    sample.residentBytes > rss / 2 && sample.residentBytes < rss * 1.5,
    `${sample.residentBytes} vs ${rss}`,
  );
  assert.ok(sample.cpuSeconds > 0);
  // This test process started before the test, and not days ago.
  assert.ok(
    sample.startTimeSeconds <= before + 1,
    String(sample.startTimeSeconds),
  );
  assert.ok(
    sample.startTimeSeconds > before - 3600,
    String(sample.startTimeSeconds),
  );
  assert.ok(sample.heapUsedBytes > 0);
  assert.ok(sample.heapTotalBytes >= sample.heapUsedBytes);
});

Deno.test("readProcessSample() names the procfs file it cannot read or parse", async () => {
  const root = await Deno.makeTempDir({ prefix: "kcm-procfs-" });
  try {
    await Deno.mkdir(join(root, "self"));
    await assert.rejects(
      readProcessSample(root),
      (error: unknown) =>
        error instanceof ProcfsError &&
        error.message ===
          `Cannot read "${
            join(root, "self/status")
          }": no such file or directory`,
    );
    await Deno.writeTextFile(
      join(root, "self/status"),
      "Name:\tx\nVmRSS:\t4 kB\n",
    );
    await Deno.writeTextFile(
      join(root, "self/stat"),
      "1 (x) S 1 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 100 0 0\n",
    );
    await Deno.writeTextFile(join(root, "stat"), "cpu 0\n");
    await assert.rejects(
      readProcessSample(root),
      (error: unknown) =>
        error instanceof ProcfsError &&
        error.message === `Cannot parse "${join(root, "stat")}"`,
    );
    await Deno.writeTextFile(join(root, "stat"), "btime 1000\n");
    const sample = await readProcessSample(root);
    assert.equal(sample.residentBytes, 4096);
    assert.equal(sample.cpuSeconds, 0.02);
    assert.equal(sample.startTimeSeconds, 1001);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
