/**
 * Worker entry that reads socket bodies of a pull (src/client/body-receivers.ts), several at once:
 * lean on purpose, it loads only util/http1-body.ts and what it needs, so it
 * is ready ~20 ms after it is started, while the first downloads are still on their way.
 */
import { receiveBodyToFile } from "../src/util/http1-body.ts";
import type { ReceiveRequest, ReceiveResponse } from "../src/client/body-receivers.ts";

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
