/** Options every benchmark takes from bench/main.ts. */

/** How a benchmark should run. */
export interface BenchOptions {
  /** Fewer repetitions (for a quick look; figures are noisier). */
  readonly quick: boolean;
}
