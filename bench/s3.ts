/**
 * What the saved hash state of S3 uploads costs (src/hash/session-state.ts): per chunk, restore
 * hash-wasm's state, hash the chunk, save the state; against hashing natively while streaming
 * (what a process holding the hash in memory would do) and against re-hashing everything
 * uploaded so far (what an instance without the state would have to do, reading it back).
 *   bun bench/s3.ts [chunkMiB=8] [chunks=16]
 */
import { hashingStream, restoreSha256, saveSha256State } from "../src/hash/session-state.ts";

const chunkBytes = Number(process.argv[2] ?? 8) << 20;
const chunks = Number(process.argv[3] ?? 16);
const chunk = new Uint8Array(chunkBytes).map((_, i) => (i * 31) & 0xff);
const streamOf = (b: Uint8Array) => new ReadableStream<Uint8Array>({ start(c) { for (let i = 0; i < b.length; i += 65536) c.enqueue(b.subarray(i, i + 65536)); c.close(); } });
const drain = async (s: ReadableStream<Uint8Array>) => { for await (const _ of s); };

let t = performance.now();
let saved: string | undefined;
let overhead = 0;
for (let i = 0; i < chunks; i++) {
  const o = performance.now();
  const h = await restoreSha256(saved, i * chunkBytes, () => { throw new Error("no read-back"); });
  overhead += performance.now() - o;
  await drain(hashingStream(streamOf(chunk), h));
  const s = performance.now();
  saved = saveSha256State(h);
  overhead += performance.now() - s;
}
const wasmMs = performance.now() - t;

t = performance.now();
const native = new Bun.CryptoHasher("sha256");
for (let i = 0; i < chunks; i++) for await (const c of streamOf(chunk)) native.update(c);
const nativeMs = performance.now() - t;

// Without a saved state, chunk i re-hashes the i chunks before it (natively, bytes already in RAM here; on S3 also a GET of them).
t = performance.now();
for (let i = 0; i < chunks; i++) { const h = new Bun.CryptoHasher("sha256"); for (let j = 0; j <= i; j++) h.update(chunk); }
const rehashMs = performance.now() - t;

const mb = (chunks * chunkBytes) / 1e6;
const result = {
  chunkMiB: chunkBytes >> 20, chunks, stateBytes: saved ? Buffer.from(saved, "base64").length : 0,
  wasmSavedState: { ms: +wasmMs.toFixed(1), MBps: +(mb / (wasmMs / 1000)).toFixed(0), restoreAndSaveMsPerChunk: +(overhead / chunks).toFixed(3) },
  nativeInMemory: { ms: +nativeMs.toFixed(1), MBps: +(mb / (nativeMs / 1000)).toFixed(0) },
  nativeRehashEachChunk: { ms: +rehashMs.toFixed(1), MBps: +(mb / (rehashMs / 1000)).toFixed(0) },
};
console.log(JSON.stringify(result, null, 2));
