/**
 * Where a pull's socket bodies are read: on this thread and on worker threads
 * (wasm/receive-worker.ts), each executor reading any number of bodies at once (they wait on
 * the network as much as they use the CPU), every new body going to the executor with the fewest
 * under way. A worker gets bodies only once it has loaded (~20 ms), so the first ones never wait
 * for it; a worker that fails to load or dies leaves its share to this thread.
 */
import type { Digest } from "../../oci/digest.ts";
import { workerLocation } from "../../hash/worker-location.ts";
import { type ReceiveBodyJob, receiveBodyToFile } from "./receive-body.ts";

type Received = { digest: Digest; bytes: number };

/** A body for wasm/receive-worker.ts; `id` pairs it with the reply. */
export interface ReceiveRequest {
  id: number;
  job: ReceiveBodyJob;
}

/** The worker's first message says it has loaded; then one reply per body, an error flattened to name and message. */
export type ReceiveResponse = { ready: true } | { id: number; ok: true; result: Received } | { id: number; ok: false; error: { name: string; message: string } };

/** The executors of one pull. */
export interface BodyReceivers {
  receive(job: ReceiveBodyJob): Promise<Received>;
  /** Stops the workers (after the bodies under way). */
  close(): Promise<void>;
}

interface Thread {
  worker: Worker;
  ready: boolean;
  pending: Map<number, { resolve(value: Received): void; reject(error: Error): void }>;
}

/** Starts `workers` worker threads beside this thread. */
export function createBodyReceivers(workers: number): BodyReceivers {
  let nextId = 1;
  let inline = 0; // bodies under way on this thread
  const threads: Thread[] = [];

  const retire = (thread: Thread, reason: string): void => {
    if (!threads.includes(thread)) return;
    threads.splice(threads.indexOf(thread), 1);
    thread.worker.terminate();
    for (const task of thread.pending.values()) task.reject(Object.assign(new Error(reason), { name: "ReceiverError" }));
    thread.pending.clear();
  };

  for (let i = 0; i < workers; i++) {
    const thread: Thread = { worker: new Worker(workerLocation("receive-worker")), ready: false, pending: new Map() };
    thread.worker.onmessage = (event: MessageEvent<ReceiveResponse>) => {
      const msg = event.data;
      if ("ready" in msg) {
        thread.ready = true;
        return;
      }
      const task = thread.pending.get(msg.id);
      thread.pending.delete(msg.id);
      if (!task) return;
      if (msg.ok) task.resolve(msg.result);
      else task.reject(Object.assign(new Error(msg.error.message), { name: msg.error.name }));
    };
    thread.worker.onerror = (event: ErrorEvent) => retire(thread, `body receiver thread failed: ${event.message}`);
    thread.worker.addEventListener("close", () => retire(thread, "body receiver thread exited while reading a body"));
    threads.push(thread);
  }

  return {
    receive(job) {
      const idle = threads.filter((t) => t.ready).sort((a, b) => a.pending.size - b.pending.size)[0];
      if (idle === undefined || idle.pending.size > inline) {
        inline++;
        return receiveBodyToFile(job).finally(() => inline--);
      }
      const id = nextId++;
      return new Promise<Received>((resolve, reject) => {
        idle.pending.set(id, { resolve, reject });
        idle.worker.postMessage({ id, job } satisfies ReceiveRequest);
      });
    },
    async close() {
      // Terminating a worker aborts what it is reading; callers close once every download settled.
      for (const thread of threads.splice(0)) thread.worker.terminate();
    },
  };
}
