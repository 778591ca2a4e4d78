/**
 * Worker-thread entry point, compiled into the binary as an extra entry (see wasm/README.md; no
 * WebAssembly here): reads socket bodies of a pull (src/client/transport/body-receivers.ts),
 * several at once. Lean on purpose, it loads only client/transport/receive-body.ts and what that
 * needs, so it is ready ~20 ms after it is started, while the first downloads are on their way.
 */
import { receiveBodyToFile } from "../src/client/transport/receive-body.ts";
import type { ReceiveRequest, ReceiveResponse } from "../src/client/transport/body-receivers.ts";

declare const self: Worker;

self.onmessage = async (event: MessageEvent<ReceiveRequest>) => {
  const req = event.data;
  let reply: ReceiveResponse;
  try {
    reply = { id: req.id, ok: true, result: await receiveBodyToFile(req.job) };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    reply = { id: req.id, ok: false, error: { name: e.name, message: e.message } };
  }
  self.postMessage(reply);
};

self.postMessage({ ready: true } satisfies ReceiveResponse);
