/** Repeated timings summarised as min and median (other processes only ever slow a run down, so min is the estimate). */

/** Seconds of each repetition with their min and median. */
export interface Timing {
  min: number;
  median: number;
  all: number[];
}

/** Summarises repeated measurements. */
export function toTiming(all: readonly number[]): Timing {
  if (all.length === 0) throw new Error("toTiming: no measurements");
  const sorted = [...all].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median = sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { min: sorted[0]!, median, all: [...all] };
}

/** Runs `fn` (which returns seconds) `runs` times in sequence. */
export async function repeat(runs: number, fn: (i: number) => Promise<number>): Promise<Timing> {
  const all: number[] = [];
  for (let i = 0; i < runs; i++) all.push(await fn(i));
  return toTiming(all);
}

/** Wall seconds of an async step. */
export async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

/** a / b rounded to 2 significant digits (what a ratio in a table needs). */
export function toRatio(a: number, b: number): number {
  return Number((a / b).toPrecision(2));
}

/**
 * Runs `pass(p)` at least once and at most `max` times; another pass starts only if the
 * mean pass time so far predicts it ends within `budgetSeconds` of the first start. Whole
 * passes over every point keep the data complete and spread repetitions over the run.
 */
export async function repeatPasses(max: number, budgetSeconds: number, pass: (p: number) => Promise<void>): Promise<number> {
  const started = performance.now();
  let done = 0;
  while (done < max) {
    const elapsed = (performance.now() - started) / 1000;
    if (done > 0 && elapsed + elapsed / done > budgetSeconds) {
      console.log(`  (stopping after ${done} of ${max} passes: another would overrun the ${budgetSeconds} s budget)`);
      break;
    }
    await pass(done);
    done++;
  }
  return done;
}
