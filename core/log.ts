/**
 * Leveled logging to stderr in the reference layout `LEVEL:root:message`,
 * so log scrapers written for the original tool keep working. A message is
 * one line: control characters in it are escaped (core/quote.ts).
 */

import { oneLine } from "./quote.ts";

/** Level names, most severe first. */
const LEVELS = [
  "CRITICAL",
  "ERROR",
  "WARNING",
  "INFO",
  "DEBUG",
] as const;

/** A log level name. */
export type Level = typeof LEVELS[number];

/** Where log lines go. */
export interface Logger {
  error(message: string): void;
  warning(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

/**
 * Parses a `KCM_LOG_LEVEL` value: one of the five names in any case.
 * Returns undefined for anything else.
 */
export function parseLevel(text: string): Level | undefined {
  const upper = text.toUpperCase();
  return (LEVELS as readonly string[]).includes(upper)
    ? upper as Level
    : undefined;
}

/** A logger writing whole lines through `writeLine`. */
export function createLogger(
  level: Level,
  writeLine: (line: string) => void,
): Logger {
  const rank = LEVELS.indexOf(level);
  const enabled = (l: Level) => LEVELS.indexOf(l) <= rank;
  const emit = (l: Level, message: string) => {
    if (enabled(l)) writeLine(`${l}:root:${oneLine(message)}\n`);
  };
  return {
    error: (m) => emit("ERROR", m),
    warning: (m) => emit("WARNING", m),
    info: (m) => emit("INFO", m),
    debug: (m) => emit("DEBUG", m),
  };
}
