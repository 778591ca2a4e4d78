import { describe, expect, test } from "bun:test";
import { gunzipSync, zstdDecompressSync } from "node:zlib";
import { randomBytes } from "node:crypto";
import { createCompressor, createDecompressor, detectCompression, looksCompressible, type Compression } from "../../src/archive/compress.ts";

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

describe("looksCompressible", () => {
  test("text yes, noise and float32 noise no", () => {
    expect(looksCompressible(text)).toBe(true);
    expect(looksCompressible(noise.subarray(0, 1 << 20))).toBe(false);
    const floats = new Float32Array(1 << 18).map(() => Math.random() * 2 - 1);
    expect(looksCompressible(new Uint8Array(floats.buffer))).toBe(false);
    expect(looksCompressible(new Uint8Array(0))).toBe(false);
    expect(looksCompressible(new Uint8Array(4096))).toBe(true);
  });
});
