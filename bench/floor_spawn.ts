/**
 * The runtime floor of `kcm isolate`: a Deno program that only spawns its
 * argv (default `true`) with inherited stdio, waits and exits with the
 * child's code. Anything kcm adds on top of this is kcm's own cost.
 */

const [command = "true", ...args] = Deno.args;
const status = await new Deno.Command(command, {
  args,
  stdin: "inherit",
  stdout: "inherit",
  stderr: "inherit",
}).spawn().status;
Deno.exit(status.code);
