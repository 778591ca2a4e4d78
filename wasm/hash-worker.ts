/**
 * Worker-thread entry point, compiled into the binary as an extra entry (see wasm/README.md; no
 * WebAssembly here, hash-wasm's runs in src/hash/): the hashing pool's threads (layer writes,
 * file hashes) and the registry's upload hashing thread.
 */
import { hashFile } from "../src/hash/hash-file.ts";
import { createSessionHashes } from "../src/hash/session-hashes.ts";
import { writeLayer } from "../src/hash/write-layer.ts";
import type { WorkerRequest, WorkerResponse } from "../src/hash/worker-protocol.ts";

declare const self: Worker;

// Only used when this thread serves a registry's upload sessions (src/hash/session-thread.ts).
const sessions = createSessionHashes();

async function perform(req: WorkerRequest): Promise<Extract<WorkerResponse, { ok: true }>["result"]> {
  switch (req.kind) {
    case "writeLayer":
      return writeLayer(req.job, req.engine);
    case "hashFile":
      return hashFile(req.path, req.engine);
    case "sessionUpdate":
      await sessions.update(req.key, req.path, req.from, req.to);
      return null;
    case "sessionDigest":
      return sessions.digest(req.key, req.path, req.size);
    case "sessionDrop":
      sessions.drop(req.key);
      return null;
  }
}

self.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const req = event.data;
  let reply: WorkerResponse;
  try {
    reply = { id: req.id, ok: true, result: await perform(req) };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    reply = { id: req.id, ok: false, error: { name: e.name, message: e.message } };
  }
  self.postMessage(reply);
};

// Tell the pool this thread has loaded: jobs go only to ready workers, so none waits on a boot.
self.postMessage({ ready: true } satisfies WorkerResponse);
