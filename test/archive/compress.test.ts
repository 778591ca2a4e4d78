import { describe, expect, test } from "bun:test";
import { gunzipSync, gzipSync, zstdDecompressSync } from "node:zlib";
import { randomBytes } from "node:crypto";
import { createCompressor, createDecompressor, deflateRatio, detectCompression, zstdRatio, type Compression } from "../../src/archive/compress.ts";

const text = new TextEncoder().encode(Array.from({ length: 40_000 }, (_, i) => `line ${i} of a config file\n`).join(""));
const noise = new Uint8Array(randomBytes(3 << 20));

/** A stream delivering `bytes` in uneven chunks. */
function chunked(bytes: Uint8Array, size = 100_003): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

describe("createCompressor / createDecompressor", () => {
  for (const kind of ["none", "gzip", "zstd"] as Compression[]) {
    for (const [name, data] of [["text", text], ["noise", noise], ["empty", new Uint8Array(0)]] as const) {
      test(`${kind} round-trips ${name}`, async () => {
        const packed = await collect(chunked(data).pipeThrough(createCompressor(kind)));
        expect(detectCompression(packed)).toBe(kind === "none" ? detectCompression(data) : kind);
        expect(await collect(createDecompressor(kind)(chunked(packed, 7_777)))).toEqual(data);
      });
    }
  }

  test("output is standard gzip and zstd, and the level matters", async () => {
    const g1 = await collect(chunked(text).pipeThrough(createCompressor("gzip", 1)));
    const g9 = await collect(chunked(text).pipeThrough(createCompressor("gzip", 9)));
    expect(new Uint8Array(gunzipSync(g1))).toEqual(text);
    expect(g9.length).toBeLessThan(g1.length);
    const z = await collect(chunked(text).pipeThrough(createCompressor("zstd", 3)));
    expect(new Uint8Array(zstdDecompressSync(z))).toEqual(text);
    expect(z.length).toBeLessThan(text.length / 4);
  });

  test("corrupt input errors the decompressed stream", async () => {
    const bad = new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8]);
    await expect(collect(createDecompressor("gzip")(chunked(bad)))).rejects.toThrow();
  });
});

describe("detectCompression", () => {
  test("magic bytes", () => {
    expect(detectCompression(new Uint8Array([0x1f, 0x8b, 8]))).toBe("gzip");
    expect(detectCompression(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0]))).toBe("zstd");
    expect(detectCompression(new Uint8Array([0x28, 0xb5, 0x2f]))).toBe("none");
    expect(detectCompression(new TextEncoder().encode("ustar"))).toBe("none");
    expect(detectCompression(new Uint8Array(0))).toBe("none");
  });
});

describe("zstdRatio", () => {
  test("tracks deflate: text and zeros shrink, noise does not, and repeats beyond deflate's 32 KiB window do not count", () => {
    expect(zstdRatio(text)).toBeLessThan(0.35);
    expect(zstdRatio(noise.subarray(0, 1 << 16))).toBeGreaterThan(0.99);
    expect(zstdRatio(new Uint8Array(1 << 16))).toBeLessThan(0.01);
    expect(zstdRatio(new Uint8Array(0))).toBe(1);
    // 28 KiB of noise, 8 KiB more, then the first 28 KiB again 36 KiB later: gzip cannot reach
    // back that far, zstd on the whole could.
    const far = new Uint8Array(64 << 10);
    far.set(noise.subarray(0, 36 << 10));
    far.set(noise.subarray(0, 28 << 10), 36 << 10);
    expect(deflateRatio(far)).toBeGreaterThan(0.99);
    expect(Bun.zstdCompressSync(far, { level: 1 }).length / far.length).toBeLessThan(0.7);
    expect(zstdRatio(far)).toBeGreaterThan(0.99);
  });
});

describe("deflateRatio", () => {
  test("predicts gzip's default level: text and zeros shrink, noise and float32 noise do not", () => {
    expect(deflateRatio(text)).toBeLessThan(0.3);
    expect(deflateRatio(noise.subarray(0, 1 << 16))).toBeGreaterThan(0.99);
    const floats = new Float32Array(1 << 14).map(() => Math.random() * 2 - 1);
    expect(deflateRatio(new Uint8Array(floats.buffer))).toBeGreaterThan(0.85);
    expect(deflateRatio(new Uint8Array(0))).toBe(1);
    expect(deflateRatio(new Uint8Array(1 << 16))).toBeLessThan(0.01);
    // What the layers are compressed with, at their level: a one-shot gzip member of the same bytes
    // minus its 18 bytes of header and trailer. (Level 1 would keep ten times more on zeros.)
    const zeros = new Uint8Array(1 << 20);
    const member = Bun.gzipSync(zeros, { level: 6, library: "libdeflate" });
    expect(Math.round(deflateRatio(zeros) * zeros.length)).toBe(member.length - 18);
    expect(deflateRatio(zeros)).toBeLessThan(gzipSync(zeros, { level: 1 }).length / zeros.length / 5);
  });
});

describe("streamed gzip (libdeflate members)", () => {
  test("each chunk written is one gzip member: the bytes depend on the content and the chunking alone, and any gunzip reads them whole", async () => {
    for (const data of [new Uint8Array(8 << 20), text, noise]) {
      const streamed = await collect(chunked(data, 2 << 20).pipeThrough(createCompressor("gzip")));
      const members: Uint8Array[] = [];
      for (let at = 0; at < data.length; at += 2 << 20) members.push(Bun.gzipSync(data.subarray(at, at + (2 << 20)), { level: 6, library: "libdeflate" }));
      expect(Buffer.from(streamed).equals(Buffer.concat(members))).toBe(true);
      // node:zlib (what 2dfs pull uses) reads every member, not just the first.
      expect(Buffer.from(gunzipSync(streamed)).equals(Buffer.from(data))).toBe(true);
      // As small as zlib's one-shot gzip at the same level, within a few percent.
      expect(streamed.length).toBeLessThan(gzipSync(data, { level: 6 }).length * 1.08 + 64);
    }
  });

  test("nothing written still gives a valid gzip stream (one empty member)", async () => {
    const streamed = await collect(chunked(new Uint8Array(0)).pipeThrough(createCompressor("gzip")));
    expect(detectCompression(streamed)).toBe("gzip");
    expect(gunzipSync(streamed).length).toBe(0);
  });
});
