/**
 * startChild(): a child that may run outside the CPUs it was promised is
 * killed and reported, read back from /proc right after the spawn.
 */

import assert from "node:assert/strict";
import { parseCpuList } from "../../core/cpuset.ts";
import { AffinityError } from "../../core/errors.ts";
import { startChild } from "../../core/process.ts";
import { skipUnless } from "../_helpers/confine.ts";
import { waitFor } from "../_helpers/wait.ts";

/** The CPUs this test process may run on (children inherit them). */
const OWN = parseCpuList(
  /^Cpus_allowed_list:\s*(\S+)$/m.exec(
    await Deno.readTextFile("/proc/self/status"),
  )![1]!,
);

Deno.test("startChild() accepts a child whose mask lies within the CPUs given", async () => {
  const child = startChild({
    command: "true",
    args: [],
    env: {},
    cpus: OWN,
  });
  assert.equal(await child.exitCode, 0);
});

const OUTSIDE =
  "startChild() kills a child that may run outside the CPUs given";
Deno.test({
  name: OUTSIDE,
  ignore: skipUnless(
    OUTSIDE,
    OWN.size < 2 ? `this process runs on one CPU only (${OWN})` : undefined,
  ),
  async fn() {
    // The child inherits this process's mask: more than the one CPU promised.
    const promised = parseCpuList(String(OWN.toArray()[0]));
    let pid = 0;
    assert.throws(
      () =>
        startChild({
          command: "sleep",
          args: ["30"],
          env: {},
          cpus: promised,
        }),
      (e: unknown) => {
        const match = /\(pid (\d+)\)/.exec(String((e as Error).message));
        pid = Number(match?.[1]);
        return e instanceof AffinityError && e.errno === undefined &&
          (e as Error).message ===
            `Command "sleep" (pid ${pid}) started on CPUs ${OWN}, not within ${promised}; killed it`;
      },
    );
    // Killed: gone, or a zombie waiting to be reaped.
    await waitFor("the child to die", async () => {
      const status = await Deno.readTextFile(`/proc/${pid}/status`)
        .catch(() => "State:\tgone");
      return /^State:\s*(Z|X|gone)/m.test(status) ? true : undefined;
    });
  },
});
