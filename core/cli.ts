/**
 * The command-line grammar of the seed usage screen: one subcommand, long
 * options anywhere before `--` as `--opt=value` or `--opt value`, unique
 * prefixes of option names, and everything after `--` passed verbatim.
 * `isolate`'s `<command>` ends kcm's part of the line, as with env(1) or
 * nice(1): every word after it is the command's, options included, with
 * one `--` right after it dropped (the seed's `<command> -- <args>` form).
 * Each command's options are typed here, once: flags become booleans,
 * counts numbers, and defaults are filled in. Pure: argv in, a
 * {@linkcode CommandLine} out, {@linkcode UsageError} on a mismatch.
 */

import { UsageError } from "./errors.ts";
import { MAX_TIMER_SECONDS } from "./poll.ts";
import { oneLine, quote } from "./quote.ts";

/** The subcommands, in the order of the usage screen. */
export const COMMANDS = [
  "cluster-init",
  "init",
  "discover",
  "describe",
  "reconcile",
  "isolate",
  "install",
  "node-report",
  "uninstall",
  "cluster-uninstall",
  "webhook",
] as const;

/** A subcommand name. */
export type CommandName = typeof COMMANDS[number];

/** How an option's text becomes a value. */
type OptionSpec =
  /** A string; with a default it is always present. */
  | { readonly kind: "string"; readonly default?: string }
  /** Given or not, without an argument. */
  | { readonly kind: "flag" }
  /** A whole number in [`min` (default 0), `max`]; undefined if not given and no default. */
  | {
    readonly kind: "count";
    readonly default?: string;
    readonly min?: number;
    readonly max?: number;
  };

/**
 * Every option with its kind and default. The defaults are the usage
 * screen's (core/usage.ts); this table is the only place kcm keeps them.
 */
const OPTIONS = {
  "host-list": { kind: "string" },
  "all-hosts": { kind: "flag" },
  "kcm-cmd-list": {
    kind: "string",
    default: "init,reconcile,install,discover,nodereport",
  },
  "kcm-img": { kind: "string", default: "kcm" },
  "kcm-img-pol": { kind: "string", default: "Never" },
  "conf-dir": { kind: "string", default: "/etc/kcm" },
  "install-dir": { kind: "string", default: "/opt/bin" },
  "interval": { kind: "count", default: "0", max: MAX_TIMER_SECONDS },
  "heartbeat": { kind: "count", default: "300" },
  "metrics-listen": { kind: "string" },
  "num-dp-cores": { kind: "count", default: "4" },
  "num-cp-cores": { kind: "count", default: "1" },
  "ignore-isolcpus": { kind: "flag" },
  "dp-mode": { kind: "string", default: "packed" },
  "cp-mode": { kind: "string", default: "packed" },
  "pool": { kind: "string" },
  "publish": { kind: "flag" },
  "no-affinity": { kind: "flag" },
  "cores": { kind: "count", min: 1 },
  "numa-node": { kind: "count" },
  "socket-id": { kind: "count" },
  "timeout": { kind: "count", default: "600", min: 1 },
  "namespace": { kind: "string" },
  "kubeconfig": { kind: "string" },
  "context": { kind: "string" },
  "insecure-http": { kind: "flag" },
  "keep-existing": { kind: "flag" },
  "force": { kind: "flag" },
  "local": { kind: "flag" },
  "delete-crds": { kind: "flag" },
  "webhook": { kind: "flag" },
  "tls-cert": { kind: "string" },
  "tls-key": { kind: "string" },
  "listen": { kind: "string", default: "0.0.0.0:8443" },
} as const satisfies Readonly<Record<string, OptionSpec>>;

/** A long option's full name. */
export type OptionName = keyof typeof OPTIONS;

/** The connection options of every command that talks to the API. */
const CONNECTION = ["kubeconfig", "context", "insecure-http"] as const;

/** The options each command takes: its typed option spec. */
const COMMAND_OPTIONS = {
  "cluster-init": [
    "host-list",
    "all-hosts",
    "kcm-cmd-list",
    "kcm-img",
    "kcm-img-pol",
    "conf-dir",
    "install-dir",
    "num-dp-cores",
    "num-cp-cores",
    "timeout",
    "namespace",
    "webhook",
    ...CONNECTION,
  ],
  "init": [
    "conf-dir",
    "num-dp-cores",
    "num-cp-cores",
    "keep-existing",
    "ignore-isolcpus",
    "dp-mode",
    "cp-mode",
  ],
  "discover": ["conf-dir", "interval", ...CONNECTION],
  "describe": ["conf-dir"],
  "reconcile": [
    "conf-dir",
    "publish",
    "interval",
    "heartbeat",
    "metrics-listen",
    ...CONNECTION,
  ],
  "isolate": [
    "conf-dir",
    "pool",
    "no-affinity",
    "cores",
    "numa-node",
    "socket-id",
  ],
  "install": ["install-dir"],
  "node-report": [
    "conf-dir",
    "publish",
    "interval",
    "heartbeat",
    "metrics-listen",
    ...CONNECTION,
  ],
  "uninstall": ["conf-dir", "install-dir", "force", "local", ...CONNECTION],
  "cluster-uninstall": [
    "host-list",
    "all-hosts",
    "kcm-img",
    "kcm-img-pol",
    "conf-dir",
    "install-dir",
    "timeout",
    "namespace",
    "force",
    "delete-crds",
    ...CONNECTION,
  ],
  "webhook": ["conf-dir", "install-dir", "tls-cert", "tls-key", "listen"],
} as const satisfies Readonly<Record<CommandName, readonly OptionName[]>>;

/**
 * An option's value: flags boolean, counts number, strings string; a count
 * or string without a default may also be undefined.
 */
type OptionValue<S> = S extends { kind: "flag" } ? boolean
  : S extends { kind: "count"; default: string } ? number
  : S extends { kind: "count" } ? number | undefined
  : S extends { default: string } ? string
  : string | undefined;

/** The name of an option command `C` takes. */
export type OptionOf<C extends CommandName> = typeof COMMAND_OPTIONS[C][number];

/** The typed options of command `C`: the given value, else the default. */
export type OptionsOf<C extends CommandName> = {
  readonly [N in OptionOf<C>]: OptionValue<typeof OPTIONS[N]>;
};

/** A parsed command line of command `C` (a union over every command). */
export type Invocation<C extends CommandName = CommandName> = C extends
  CommandName ? {
    readonly kind: "command";
    readonly command: C;
    /** Every option the command takes: the given value, else its default. */
    readonly options: OptionsOf<C>;
    /**
     * The options typed on the command line, as opposed to defaulted: a
     * command that keeps what it finds unless told otherwise asks here.
     */
    readonly given: ReadonlySet<OptionOf<C>>;
    /** Positionals before `--` (isolate's `<command>`). */
    readonly positionals: readonly string[];
    /**
     * isolate: the words after `<command>`, verbatim (a `--` right after
     * it dropped). Otherwise the words after `--`, which only isolate
     * takes. Undefined when there were none of either.
     */
    readonly rest: readonly string[] | undefined;
  }
  : never;

/** What the user asked for. */
export type CommandLine =
  | { readonly kind: "help" }
  | { readonly kind: "version" }
  | Invocation;

function isOptionName(name: string): name is OptionName {
  return Object.hasOwn(OPTIONS, name);
}

function resolveName(given: string): OptionName {
  if (isOptionName(given)) return given;
  const matches = Object.keys(OPTIONS).filter((n) => n.startsWith(given));
  if (matches.length === 1) return matches[0] as OptionName;
  if (matches.length === 0) {
    throw new UsageError(`Unknown option --${oneLine(given)}`);
  }
  throw new UsageError(
    `--${oneLine(given)} is not a unique prefix: ${
      matches.map((m) => `--${m}`).join(", ")
    }?`,
  );
}

/**
 * Reads a whole number option, rejecting anything else as a usage error;
 * above `max` it names the maximum.
 */
export function parseCount(
  name: string,
  text: string,
  min = 0,
  max?: number,
): number {
  if (!/^[0-9]+$/.test(text) || Number(text) < min) {
    throw new UsageError(
      `--${name} must be a whole number >= ${min}, got ${quote(text)}`,
    );
  }
  const n = Number(text);
  if (max !== undefined && n > max) {
    throw new UsageError(
      `--${name} must be at most ${max} (the longest a timer waits), got ${
        quote(text)
      }`,
    );
  }
  if (!Number.isSafeInteger(n)) {
    throw new UsageError(`--${name} is too large: ${quote(text)}`);
  }
  return n;
}

/** The typed value of one option of a command, given or defaulted. */
function optionValue(
  name: OptionName,
  given: string | boolean | undefined,
): string | boolean | number | undefined {
  const spec: OptionSpec = OPTIONS[name];
  switch (spec.kind) {
    case "flag":
      return given === true;
    case "count": {
      const text = typeof given === "string" ? given : spec.default;
      return text === undefined
        ? undefined
        : parseCount(name, text, spec.min, spec.max);
    }
    case "string":
      return typeof given === "string" ? given : spec.default;
  }
}

function checkPositionals(
  name: CommandName,
  positionals: string[],
  rest: string[] | undefined,
): void {
  if (name === "isolate") {
    if (positionals.length === 0 && rest !== undefined && rest.length > 0) {
      // `kcm isolate --pool=P -- <command> [--] <args>...`
      positionals.push(rest.shift()!);
      if (rest[0] === "--") rest.shift();
    }
    if (positionals.length === 0) {
      throw new UsageError("isolate needs a <command>");
    }
  } else {
    if (positionals.length > 0) {
      throw new UsageError(`Unexpected argument ${quote(positionals[0]!)}`);
    }
    if (rest !== undefined) {
      throw new UsageError(`"--" is only valid with isolate`);
    }
  }
}

/**
 * Parses kcm's argv (without the program name).
 *
 * @example
 * ```ts
 * import { parseCommandLine } from "./cli.ts";
 * import assert from "node:assert/strict";
 * const line = parseCommandLine(["init", "--conf", "/tmp/k", "--num-dp-cores=2"]);
 * assert.ok(line.kind === "command" && line.command === "init");
 * assert.equal(line.options["conf-dir"], "/tmp/k");
 * assert.equal(line.options["num-dp-cores"], 2);
 * ```
 */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const given = new Map<OptionName, string | boolean>();
  const positionals: string[] = [];
  let rest: string[] | undefined;
  let version = false;

  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === "--") {
      rest = argv.slice(i + 1);
      break;
    }
    if (token === "-h" || token === "--help") return { kind: "help" };
    if (token === "--version") {
      version = true;
      continue;
    }
    if (token.startsWith("--")) {
      const eq = token.indexOf("=");
      const name = resolveName(eq < 0 ? token.slice(2) : token.slice(2, eq));
      let value: string | boolean;
      if (OPTIONS[name].kind === "flag") {
        if (eq >= 0) {
          throw new UsageError(`--${name} must not have an argument`);
        }
        value = true;
      } else if (eq >= 0) {
        value = token.slice(eq + 1);
      } else if (i + 1 < argv.length && argv[i + 1] !== "--") {
        value = argv[++i]!;
      } else {
        throw new UsageError(`--${name} requires argument`);
      }
      if (given.has(name)) throw new UsageError(`--${name} is given twice`);
      given.set(name, value);
      continue;
    }
    if (token.startsWith("-") && token !== "-") {
      throw new UsageError(`Unknown option ${oneLine(token)}`);
    }
    positionals.push(token);
    if (positionals.length === 2 && positionals[0] === "isolate") {
      // isolate's <command>: the rest of the line is the command's.
      rest = argv.slice(i + 1);
      if (rest[0] === "--") rest.shift();
      break;
    }
  }

  if (version) return { kind: "version" };
  const command = positionals.shift();
  if (command === undefined) throw new UsageError("No command given");
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new UsageError(`Unknown command ${quote(command)}`);
  }
  const name = command as CommandName;
  const allowed: readonly OptionName[] = COMMAND_OPTIONS[name];
  for (const option of given.keys()) {
    if (!allowed.includes(option)) {
      throw new UsageError(`--${option} is not an option of ${name}`);
    }
  }
  checkPositionals(name, positionals, rest);
  const options: Record<string, string | boolean | number | undefined> = {};
  for (const option of allowed) {
    options[option] = optionValue(option, given.get(option));
  }
  // `options` holds exactly COMMAND_OPTIONS[name], each value made by
  // optionValue() from its OPTIONS kind: the shape OptionsOf<name> names;
  // `given` only names options checked against that list above.
  // TypeScript cannot follow a loop over a table, hence the cast.
  return {
    kind: "command",
    command: name,
    options,
    given: new Set(given.keys()),
    positionals,
    rest,
  } as unknown as Invocation;
}
