/**
 * The running hashes of a registry's upload sessions (session-hashes.ts), kept on one worker
 * thread, so that the server's event loop only moves bytes while another core hashes them. A
 * worker that dies fails the calls it was running; the next call starts a new one, whose empty
 * state makes each session hash its file again from the start.
 */
import type { SessionHashes } from "./session-hashes.ts";
import type { SessionRequest, WorkerResponse } from "./worker-protocol.ts";
import { workerLocation } from "./worker-location.ts";

/** Thrown when the hashing thread dies during a call, or for calls after close(). */
export class SessionThreadError extends Error {
  override name = "SessionThreadError";
}

/** Session hashes on a worker thread; close() stops it. */
export interface SessionThread extends SessionHashes {
  close(): void;
}

type Pending = { resolve(value: unknown): void; reject(error: Error): void };
type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;

/** Creates the thread lazily, on the first call. */
export function createSessionThread(): SessionThread {
  let worker: Worker | undefined;
  let closed = false;
  let nextId = 1;
  const pending = new Map<number, Pending>();

  const fail = (w: Worker, reason: string): void => {
    if (worker !== w) return; // already replaced
    worker = undefined;
    w.terminate();
    for (const p of pending.values()) p.reject(new SessionThreadError(reason));
    pending.clear();
  };

  const start = (): Worker => {
    const w = new Worker(workerLocation());
    w.onmessage = (event: MessageEvent<WorkerResponse>) => {
      const msg = event.data;
      if ("ready" in msg) return; // messages posted before it loaded are queued for it anyway
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(Object.assign(new Error(msg.error.message), { name: msg.error.name }));
    };
    w.addEventListener("close", () => fail(w, "the upload hashing thread exited"));
    w.onerror = (event: ErrorEvent) => fail(w, `the upload hashing thread failed: ${event.message}`);
    return w;
  };

  const call = <T>(request: WithoutId<SessionRequest>): Promise<T> => {
    if (closed) return Promise.reject(new SessionThreadError("the upload hashing thread is closed"));
    worker ??= start();
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker!.postMessage({ ...request, id } as SessionRequest);
    });
  };

  return {
    update: (key, path, from, to) => call<void>({ kind: "sessionUpdate", key, path, from, to }),
    digest: (key, path, size) => call<string>({ kind: "sessionDigest", key, path, size }),
    drop(key) {
      if (worker) void call<void>({ kind: "sessionDrop", key }).catch(() => {});
    },
    close() {
      closed = true;
      if (worker) fail(worker, "the upload hashing thread was closed");
    },
  };
}
