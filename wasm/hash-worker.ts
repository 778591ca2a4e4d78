/** Worker entry of the hashing pool: runs layer writes and file hashes off the main thread. */
import { hashFile } from "../src/hash/hash-file.ts";
import { writeLayer } from "../src/hash/write-layer.ts";
import type { WorkerRequest, WorkerResponse } from "../src/hash/worker-protocol.ts";

declare const self: Worker;

self.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const req = event.data;
  let reply: WorkerResponse;
  try {
    const result = req.kind === "writeLayer" ? await writeLayer(req.job, req.engine) : await hashFile(req.path, req.engine);
    reply = { id: req.id, ok: true, result };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    reply = { id: req.id, ok: false, error: { name: e.name, message: e.message } };
  }
  self.postMessage(reply);
};

// Tell the pool this thread has loaded: jobs go only to ready workers, so none waits on a boot.
self.postMessage({ ready: true } satisfies WorkerResponse);
