/**
 * A pool of hashing workers: layer writes and file hashes run in parallel, one job per
 * executor at a time. The calling thread is one of the executors: a worker takes 30-100 ms to
 * boot, so the first job starts at once here while the workers load, and a build of a single
 * allotment never waits for a worker at all.
 */
import { availableParallelism } from "node:os";
import type { Digest } from "../oci/digest.ts";
import { DEFAULT_HASH_ENGINE, type HashEngine } from "./sha256.ts";
import { hashFile } from "./hash-file.ts";
import type { WriteLayerJob, WriteLayerResult } from "./layer-job.ts";
import { writeLayer } from "./write-layer.ts";
import type { WorkerRequest, WorkerResponse } from "./worker-protocol.ts";
import { workerLocation } from "./worker-location.ts";

export type { WriteLayerJob, WriteLayerResult } from "./layer-job.ts";

/** Runs hashing jobs on worker threads. */
export interface WorkerPool {
  /** tar -> (compress) -> outPath; diffId (tar) and digest (stored bytes) from one read of each source. */
  writeLayer(job: WriteLayerJob): Promise<WriteLayerResult>;
  /** Digest and size of one file. */
  hashFile(path: string): Promise<{ digest: Digest; size: number }>;
  /** Waits for queued jobs, then stops the workers; later jobs are rejected. */
  close(): Promise<void>;
}

/** Thrown for jobs submitted after close(), or when a worker dies while running a job. */
export class WorkerPoolError extends Error {
  override name = "WorkerPoolError";
}

type Payload = { kind: "writeLayer"; job: WriteLayerJob } | { kind: "hashFile"; path: string };

interface Task {
  payload: Payload;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  task: Task | null;
  ready: boolean;
}

/**
 * Creates a pool of `workers` executors (default: available cores): the calling thread plus
 * `workers - 1` worker threads, started at once. `inline: false` uses worker threads only.
 */
export function createWorkerPool(opts: { workers?: number; engine?: HashEngine; inline?: boolean } = {}): WorkerPool {
  const size = Math.max(1, opts.workers ?? availableParallelism());
  const engine = opts.engine ?? DEFAULT_HASH_ENGINE;
  const inline = opts.inline ?? true;
  const threads = inline ? size - 1 : size;
  const slots: Slot[] = [];
  const queue: Task[] = [];
  let inlineBusy = false;
  let bootFailures = 0;
  let nextId = 1;
  let closed = false;
  let drained: (() => void) | null = null;

  const busy = () => inlineBusy || slots.some((s) => s.task !== null) || queue.length > 0;

  const dispatch = (): void => {
    while (queue.length > 0) {
      const slot = slots.find((s) => s.ready && s.task === null);
      if (slot) {
        run(slot, queue.shift()!);
        continue;
      }
      if (inline && !inlineBusy) {
        runInline(queue.shift()!);
        continue;
      }
      // A worker that cannot even load is not retried forever: the calling thread carries on
      // alone, and without it the queued jobs fail rather than wait for ever.
      if (slots.length < threads && bootFailures < 3) spawn();
      else if (!inline && slots.length === 0) {
        for (const task of queue.splice(0)) task.reject(new WorkerPoolError("hash workers failed to start"));
      }
      return;
    }
    if (!busy() && drained) drained();
  };

  const runInline = (task: Task): void => {
    inlineBusy = true;
    const { payload } = task;
    const work = payload.kind === "writeLayer" ? writeLayer(payload.job, engine) : hashFile(payload.path, engine);
    work.then(task.resolve, task.reject).finally(() => {
      inlineBusy = false;
      dispatch();
    });
  };

  const run = (slot: Slot, task: Task): void => {
    slot.task = task;
    const req = { id: nextId++, engine, ...task.payload } as WorkerRequest;
    slot.worker.postMessage(req);
  };

  const finish = (slot: Slot): Task | null => {
    const task = slot.task;
    slot.task = null;
    return task;
  };

  const retire = (slot: Slot, reason: string): void => {
    if (!slots.includes(slot)) return; // already retired (error then close), or closed by close()
    if (!slot.ready) bootFailures++;
    const task = finish(slot);
    slots.splice(slots.indexOf(slot), 1);
    slot.worker.terminate();
    task?.reject(new WorkerPoolError(reason));
    dispatch();
  };

  const spawn = (): Slot => {
    const worker = new Worker(workerLocation());
    const slot: Slot = { worker, task: null, ready: false };
    worker.onmessage = (event: MessageEvent<WorkerResponse>) => {
      const msg = event.data;
      if ("ready" in msg) {
        slot.ready = true;
        dispatch();
        return;
      }
      const task = finish(slot);
      if (task) {
        if (msg.ok) task.resolve(msg.result);
        else task.reject(Object.assign(new Error(msg.error.message), { name: msg.error.name }));
      }
      dispatch();
    };
    // A crashed worker, or one that exits without an error event, is replaced; only its job fails.
    worker.addEventListener("close", () => retire(slot, "hash worker exited while running a job"));
    worker.onerror = (event: ErrorEvent) => retire(slot, `hash worker failed: ${event.message}`);
    slots.push(slot);
    return slot;
  };

  const submit = <T>(payload: Payload): Promise<T> => {
    if (closed) return Promise.reject(new WorkerPoolError("worker pool is closed"));
    return new Promise<T>((resolve, reject) => {
      queue.push({ payload, resolve: resolve as (v: unknown) => void, reject });
      dispatch();
    });
  };

  // Start every worker now: a worker takes ~30-100 ms to load, which then overlaps other work.
  // Workers stay referenced until close(): Bun 1.4's worker.unref() can lose messages in flight
  // (oven-sh/bun#28645), which left a job pending for ever in our test runs.
  for (let i = 0; i < threads; i++) spawn();

  return {
    writeLayer: (job) => submit<WriteLayerResult>({ kind: "writeLayer", job }),
    hashFile: (path) => submit<{ digest: Digest; size: number }>({ kind: "hashFile", path }),
    async close() {
      closed = true;
      if (busy()) await new Promise<void>((resolve) => (drained = resolve));
      for (const slot of slots.splice(0)) slot.worker.terminate();
    },
  };
}
