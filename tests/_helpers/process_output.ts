/**
 * Watching a long-running kcm process: its output as it arrives, waiting
 * for a line, and how long it takes to exit after a signal.
 */

import { waitFor } from "./wait.ts";

/** A stream's text so far; `done` resolves when the stream ends. */
export interface TextSink {
  text: string;
  done: Promise<void>;
}

/** Accumulates a stream's text as it arrives. */
export function collectText(stream: ReadableStream<Uint8Array>): TextSink {
  const sink: TextSink = { text: "", done: Promise.resolve() };
  sink.done = stream.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({
      write(chunk) {
        sink.text += chunk;
      },
    }),
  );
  return sink;
}

/** Waits until `sink` holds a line matching `pattern`; returns the match. */
export function waitForLine(
  sink: TextSink,
  pattern: RegExp,
  timeoutMs = 30_000,
): Promise<RegExpMatchArray> {
  const anchored = new RegExp(
    pattern.source,
    pattern.flags.replace("m", "") + "m",
  );
  return waitFor(
    `a line matching ${pattern}`,
    () => sink.text.match(anchored) ?? undefined,
    timeoutMs,
  );
}

/**
 * Sends `signal` to `child` and waits for it to exit, at most `limitMs`
 * (then SIGKILL). Returns the status and the milliseconds it took.
 */
export async function signalAndTime(
  child: Deno.ChildProcess,
  signal: Deno.Signal,
  limitMs = 10_000,
): Promise<{ status: Deno.CommandStatus; ms: number }> {
  const started = performance.now();
  child.kill(signal);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), limitMs);
  });
  const status = await Promise.race([child.status, late]);
  clearTimeout(timer);
  if (status === undefined) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Gone meanwhile.
    }
    return { status: await child.status, ms: performance.now() - started };
  }
  return { status, ms: performance.now() - started };
}

const WAITING = /^INFO:root:Waiting \d+ seconds? until next /gm;

/**
 * Sends `signal` to an `--interval` loop between two rounds, as
 * {@linkcode signalAndTime} does: first waits, at most `idleTimeoutMs`,
 * for a new "Waiting N seconds until next ..." line on `err` (logged at
 * INFO when a round has ended and the wait for the next one begins), or
 * for the loop to have exited.
 *
 * Why: a signal at a random moment may meet a round busy computing, which
 * on a loaded machine can outlast the loop's stop grace (1 s) and log a
 * warning the test did not ask for. A round still going after
 * `idleTimeoutMs` is waiting for an answer (an API request), which the
 * stop signal aborts at once: the signal is sent then anyway.
 */
export async function signalBetweenRounds(
  child: Deno.ChildProcess,
  err: TextSink,
  signal: Deno.Signal,
  idleTimeoutMs = 10_000,
): Promise<{ status: Deno.CommandStatus; ms: number }> {
  const waits = () => err.text.match(WAITING)?.length ?? 0;
  const seen = waits();
  let exited = false;
  void child.status.then(() => exited = true);
  const deadline = performance.now() + idleTimeoutMs;
  while (!exited && waits() === seen && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (exited) return { status: await child.status, ms: 0 };
  return await signalAndTime(child, signal);
}
