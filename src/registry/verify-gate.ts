/**
 * Bounds the bcrypt checks in flight. Bun.password.verify runs on the same native thread pool
 * as file I/O: measured on 2 cores, one check at a time left file reads at 4 ms p99, two at a
 * time pushed them to 640 ms, and 40 at once to 7 s. So checks wait their turn in a short
 * queue, and when that is full a request is refused at once instead of queueing without end.
 */

/** Thrown by {@link VerifyGate.run} when the queue is full. */
export class GateFullError extends Error {
  override name = "GateFullError";
}

/** Runs jobs with bounded concurrency and a bounded queue. */
export interface VerifyGate {
  run<T>(job: () => Promise<T>): Promise<T>;
}

/** Creates a gate running `concurrency` jobs at once with up to `queue` waiting. */
export function createVerifyGate(concurrency: number, queue: number): VerifyGate {
  let running = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };
  return {
    async run(job) {
      if (running >= concurrency) {
        if (waiting.length >= queue) throw new GateFullError("too many password checks waiting");
        // The slot is handed over by release(), so `running` is unchanged.
        await new Promise<void>((resolve) => waiting.push(resolve));
      } else {
        running++;
      }
      try {
        return await job();
      } finally {
        release();
      }
    },
  };
}
