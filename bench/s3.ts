/**
 * What the saved hash state of S3 uploads costs (src/hash/session-state.ts): per chunk, restore
 * hash-wasm's state, hash the chunk, save the state; against hashing natively while streaming
 * (what a process holding the hash in memory would do) and against re-hashing everything
 * uploaded so far (what an instance without the state would have to do, reading it back).
 * Two upload shapes: 16 chunks of 8 MiB (docker's and `2dfs push`'s large chunks) and 64 of
 * 1 MiB (small PATCHes, where re-hashing hurts most). Prints a table, writes bench/results/s3.json.
 *   bun bench/s3.ts
 */
import { hashingStream, restoreSha256, saveSha256State } from "../src/hash/session-state.ts";
import { printTable, writeResults } from "./lib/table.ts";

const streamOf = (b: Uint8Array) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < b.length; i += 65536) c.enqueue(b.subarray(i, i + 65536));
      c.close();
    },
  });
const drain = async (s: ReadableStream<Uint8Array>) => {
  for await (const _ of s);
};

async function measure(chunkMiB: number, chunks: number) {
  const chunkBytes = chunkMiB << 20;
  const chunk = new Uint8Array(chunkBytes).map((_, i) => (i * 31) & 0xff);

  let t = performance.now();
  let saved: string | undefined;
  let overhead = 0;
  for (let i = 0; i < chunks; i++) {
    const o = performance.now();
    const h = await restoreSha256(saved, i * chunkBytes, () => {
      throw new Error("no read-back");
    });
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
  for (let i = 0; i < chunks; i++) {
    const h = new Bun.CryptoHasher("sha256");
    for (let j = 0; j <= i; j++) h.update(chunk);
  }
  const rehashMs = performance.now() - t;

  const mb = (chunks * chunkBytes) / 1e6;
  const rate = (ms: number) => Math.round(mb / (ms / 1000));
  return {
    upload: `${chunks} x ${chunkMiB} MiB`,
    "state bytes": saved ? Buffer.from(saved, "base64").length : 0,
    "restore+save ms/chunk": Math.round((overhead / chunks) * 1000) / 1000,
    "hash-wasm with state MB/s": rate(wasmMs),
    "native in memory MB/s": rate(nativeMs),
    "native re-hash all MB/s": rate(rehashMs),
  };
}

const rows = [await measure(8, 16), await measure(1, 64)];
printTable("S3 upload hashing: saved hash-wasm state per chunk vs native in memory vs re-hashing all so far (one run)", rows);
await writeResults("s3", rows);
