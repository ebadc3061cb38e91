/**
 * The webhook's wrapped argv and `isolate`'s command line agree: whatever
 * a container's command and args are (words starting with `-`, `--`
 * anywhere), `kcm isolate` parses the wrapped argv back to exactly them.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { parseCommandLine } from "../../../core/cli.ts";
import { wrapCommand } from "../../../core/webhook/wrap_command.ts";

const word = fc.oneof(
  fc.constantFrom("--", "-", "-c", "--pool=x", "--help", "-x", "a b", ""),
  fc.string({ maxLength: 6 }),
);

Deno.test("wrapCommand() gives isolate exactly the container's argv", () => {
  fc.assert(
    fc.property(
      fc.array(word, { minLength: 1, maxLength: 4 }).filter((c) => c[0] !== ""),
      fc.array(word, { maxLength: 4 }),
      (command, args) => {
        const wrapped = wrapCommand(command, args, "dataplane", {
          confDir: "/etc/kcm",
          installDir: "/opt/bin",
        });
        const line = parseCommandLine(wrapped.slice(1));
        assert.ok(line.kind === "command" && line.command === "isolate");
        assert.equal(line.options.pool, "dataplane");
        assert.deepEqual(
          [...line.positionals, ...(line.rest ?? [])],
          [...command, ...args],
        );
      },
    ),
    { seed: 5, numRuns: 3000 },
  );
});
