/**
 * The command-line grammar of the seed usage screen: one subcommand, long
 * options anywhere before `--` as `--opt=value` or `--opt value`, unique
 * prefixes of option names, and everything after `--` passed verbatim.
 * Pure: argv in, a {@linkcode CommandLine} out, {@linkcode UsageError} on a
 * mismatch.
 */

import { UsageError } from "./errors.ts";

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
] as const;

/** A subcommand name. */
export type CommandName = typeof COMMANDS[number];

interface OptionSpec {
  /** Takes a value (`--opt=<v>`) rather than being a flag. */
  readonly value: boolean;
  /** Value used when the option is not given. */
  readonly default?: string;
}

const OPTIONS: Readonly<Record<string, OptionSpec>> = {
  "host-list": { value: true },
  "all-hosts": { value: false },
  "kcm-cmd-list": {
    value: true,
    default: "init,reconcile,install,discover,nodereport",
  },
  "kcm-img": { value: true, default: "kcm" },
  "kcm-img-pol": { value: true, default: "Never" },
  "conf-dir": { value: true, default: "/etc/kcm" },
  "install-dir": { value: true, default: "/opt/bin" },
  "interval": { value: true, default: "0" },
  "num-dp-cores": { value: true, default: "4" },
  "num-cp-cores": { value: true, default: "1" },
  "pool": { value: true },
  "publish": { value: false },
  "no-affinity": { value: false },
  "timeout": { value: true, default: "600" },
  "namespace": { value: true },
  "kubeconfig": { value: true },
  "context": { value: true },
  "insecure-http": { value: false },
  "keep-existing": { value: false },
  "force": { value: false },
  "local": { value: false },
  "delete-crds": { value: false },
};

/** The connection options of every command that talks to the API. */
const CONNECTION = ["kubeconfig", "context", "insecure-http"];

const ALLOWED: Readonly<Record<CommandName, readonly string[]>> = {
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
    ...CONNECTION,
  ],
  "init": ["conf-dir", "num-dp-cores", "num-cp-cores", "keep-existing"],
  "discover": ["conf-dir", "interval", ...CONNECTION],
  "describe": ["conf-dir"],
  "reconcile": ["conf-dir", "publish", "interval"],
  "isolate": ["conf-dir", "pool", "no-affinity"],
  "install": ["install-dir"],
  "node-report": ["conf-dir", "publish", "interval"],
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
};

/** What the user asked for. */
export type CommandLine =
  | { readonly kind: "help" }
  | { readonly kind: "version" }
  | {
    readonly kind: "command";
    readonly command: CommandName;
    /** Every option the command takes: given value, else its default. */
    readonly options: Readonly<Record<string, string | boolean | undefined>>;
    /** The options given on the command line (not defaulted), by full name. */
    readonly given: readonly string[];
    /** Positionals before `--` (isolate's `<command>`). */
    readonly positionals: readonly string[];
    /** Tokens after `--`, verbatim; undefined when there was no `--`. */
    readonly rest: readonly string[] | undefined;
  };

function resolveName(given: string): string {
  if (given in OPTIONS) return given;
  const matches = Object.keys(OPTIONS).filter((n) => n.startsWith(given));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new UsageError(`Unknown option --${given}`);
  throw new UsageError(
    `--${given} is not a unique prefix: ${
      matches.map((m) => `--${m}`).join(", ")
    }?`,
  );
}

/**
 * Parses kcm's argv (without the program name).
 *
 * @example
 * ```ts
 * import { parseCommandLine } from "./cli.ts";
 * import assert from "node:assert/strict";
 * const line = parseCommandLine(["init", "--conf", "/tmp/k", "--num-dp-cores=2"]);
 * assert.equal(line.kind === "command" && line.options["conf-dir"], "/tmp/k");
 * ```
 */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const given = new Map<string, string | boolean>();
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
      const rawName = eq < 0 ? token.slice(2) : token.slice(2, eq);
      const name = resolveName(rawName);
      const spec = OPTIONS[name]!;
      let value: string | boolean;
      if (!spec.value) {
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
      throw new UsageError(`Unknown option ${token}`);
    }
    positionals.push(token);
  }

  if (version) return { kind: "version" };
  const command = positionals.shift();
  if (command === undefined) throw new UsageError("No command given");
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new UsageError(`Unknown command "${command}"`);
  }
  const name = command as CommandName;
  const allowed = ALLOWED[name];
  const options: Record<string, string | boolean | undefined> = {};
  for (const option of allowed) {
    const spec = OPTIONS[option]!;
    options[option] = given.get(option) ?? (spec.value ? spec.default : false);
  }
  for (const option of given.keys()) {
    if (!allowed.includes(option)) {
      throw new UsageError(`--${option} is not an option of ${name}`);
    }
  }

  if (name === "isolate") {
    if (positionals.length === 0 && rest !== undefined && rest.length > 0) {
      positionals.push(rest.shift()!);
    }
    if (positionals.length !== 1) {
      throw new UsageError(
        positionals.length === 0
          ? "isolate needs a <command>"
          : `isolate takes one <command>; put its arguments after "--": ${
            positionals.join(" ")
          }`,
      );
    }
  } else {
    if (positionals.length > 0) {
      throw new UsageError(`Unexpected argument "${positionals[0]}"`);
    }
    if (rest !== undefined) {
      throw new UsageError(`"--" is only valid with isolate`);
    }
  }
  return {
    kind: "command",
    command: name,
    options,
    given: [...given.keys()],
    positionals,
    rest,
  };
}

/** Reads a whole number option, rejecting anything else as a usage error. */
export function parseCount(name: string, text: string, min = 0): number {
  if (!/^[0-9]+$/.test(text) || Number(text) < min) {
    throw new UsageError(
      `--${name} must be a whole number >= ${min}, got "${text}"`,
    );
  }
  const n = Number(text);
  if (!Number.isSafeInteger(n)) {
    throw new UsageError(`--${name} is too large: "${text}"`);
  }
  return n;
}
