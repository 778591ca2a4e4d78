/** Layer compression codecs (gzip through libdeflate, zstd and decompression through node:zlib), streaming, plus detection and a compressibility probe. */
import { closeSync, openSync, readSync } from "node:fs";
import type * as Zlib from "node:zlib";
import type { Transform } from "node:stream";
import type { LayerCompression } from "../oci/media-types.ts";

// Loading node:zlib brings in Node's stream machinery: about 15 ms of start-up in the compiled
// binary. Only the commands that (de)compress should pay for it (a pull of an uncompressed
// partition or a rebuild with nothing to do never does), so it is required on first use.
let zlibModule: typeof Zlib | undefined;
function zlib(): typeof Zlib {
  return (zlibModule ??= require("node:zlib") as typeof Zlib);
}

/** How a layer's bytes are stored. */
export type Compression = LayerCompression;

/** Default levels: gzip 6 matches the reference builder; zstd 3 is zstd's own default (see bench/compress.ts). */
export const DEFAULT_LEVEL: Record<Exclude<Compression, "none">, number> = { gzip: 6, zstd: 3 };

/** A streaming byte transform (compressor or decompressor). */
export type ByteTransform = TransformStream<Uint8Array, Uint8Array>;

// Large output chunks keep per-chunk costs (hashing, write syscalls, stream hops) negligible.
const CHUNK_SIZE = 1 << 20;

/** A streaming compressor for `kind`; "none" passes bytes through. Never uses zstd worker threads (they crashed Bun). */
export function createCompressor(kind: Compression, level?: number): ByteTransform {
  if (kind === "none") return new TransformStream();
  return toWebTransform(createNodeCompressor(kind, level));
}

/** The node stream behind `createCompressor`, for callers that drive it directly. */
export function createNodeCompressor(kind: Exclude<Compression, "none">, level?: number): Transform {
  if (kind === "gzip") return createMemberGzip(level ?? DEFAULT_LEVEL.gzip);
  return zlib().createZstdCompress({
    chunkSize: CHUNK_SIZE,
    params: { [zlib().constants.ZSTD_c_compressionLevel]: level ?? DEFAULT_LEVEL.zstd },
  });
}

/**
 * gzip through libdeflate, Bun's second deflate library: each chunk written becomes one gzip
 * member, and a gzip stream may hold any number of members (RFC 1952; Go's readers, which Docker,
 * containerd, podman and skopeo use, node:zlib, GNU gzip and tar read them all). On the real model
 * set of bench/build.ts it compresses 1.6x faster than zlib at the same level and size (86 vs 54
 * MB/s at level 6; text and zeros within a few percent either way, bench/compress.ts). libdeflate
 * has no streaming API, hence the members: layer writers hand it fixed 2 MiB tar chunks, so the
 * bytes depend on the content alone. Synchronous: it runs on a build's worker thread.
 */
function createMemberGzip(level: number): Transform {
  const { Transform: NodeTransform } = require("node:stream") as typeof import("node:stream");
  let members = 0;
  const member = (bytes: Uint8Array, done: (error?: Error | null, data?: Uint8Array) => void) => {
    try {
      members++;
      done(null, gzipMember(bytes, level));
    } catch (error) {
      done(error as Error);
    }
  };
  return new NodeTransform({
    transform: (chunk: Uint8Array, _encoding, done) => member(chunk, done),
    // A gzip stream has at least one member, even of nothing.
    flush: (done) => (members === 0 ? member(new Uint8Array(0), done) : done()),
  });
}

/**
 * One gzip member of `bytes` through libdeflate (see createMemberGzip). Layer writers call it
 * directly, once per 2 MiB tar chunk, so a thread that compresses never loads node:stream.
 */
export function gzipMember(bytes: Uint8Array, level = DEFAULT_LEVEL.gzip): Uint8Array {
  return Bun.gzipSync(bytes as Uint8Array<ArrayBuffer>, { level: level as Bun.LibdeflateCompressionOptions["level"], library: "libdeflate" });
}

/** A function that decompresses a stream of `kind`; "none" returns the stream unchanged. */
export function createDecompressor(kind: Compression): (stream: ReadableStream<Uint8Array>) => ReadableStream<Uint8Array> {
  if (kind === "none") return (stream) => stream;
  return (stream) => {
    const t = kind === "gzip" ? zlib().createGunzip({ chunkSize: CHUNK_SIZE }) : zlib().createZstdDecompress({ chunkSize: CHUNK_SIZE });
    return stream.pipeThrough(toWebTransform(t));
  };
}

/** The compression of a blob from its first bytes (magic numbers); anything else is "none". */
export function detectCompression(firstBytes: Uint8Array): Compression {
  if (firstBytes[0] === 0x1f && firstBytes[1] === 0x8b) return "gzip";
  if (firstBytes[0] === 0x28 && firstBytes[1] === 0xb5 && firstBytes[2] === 0x2f && firstBytes[3] === 0xfd) return "zstd";
  return "none";
}

/** The compression of the blob stored at `path`, from its first four bytes. */
export async function detectFileCompression(path: string): Promise<Compression> {
  // Four bytes, read synchronously: cheaper than a round trip through Bun's fs thread pool.
  const magic = new Uint8Array(4);
  const fd = openSync(path, "r");
  try {
    return detectCompression(magic.subarray(0, readSync(fd, magic, 0, 4, 0)));
  } finally {
    closeSync(fd);
  }
}

/**
 * The fraction of its size `sample` keeps under deflate at gzip's default level, the level
 * `auto` compresses at, so the sample predicts the stored bytes and not a faster codec's (level 1
 * expands float weights to 105% and halves the gain on text, which hid real savings and showed
 * fake ones). 1 for an empty sample. libdeflate, the library the layers are compressed with, so
 * the prediction is of the bytes stored and as reproducible as they are; and Bun's own, so that
 * deciding costs no node:zlib load (~15 ms) in a build that stores nothing compressed.
 */
export function deflateRatio(sample: Uint8Array): number {
  if (sample.length === 0) return 1;
  const options: Bun.LibdeflateCompressionOptions = { level: DEFAULT_LEVEL.gzip as Bun.LibdeflateCompressionOptions["level"], library: "libdeflate" };
  return Bun.deflateSync(sample as Uint8Array<ArrayBuffer>, options).length / sample.length;
}

/**
 * Compressed size / size of `sample` at zstd level 1: 5-7x cheaper than deflateRatio on a
 * 64 KiB sample (bench/results/compress.json: 0.1 vs 0.5-0.7 ms), and within a few points of it
 * (bench/results/auto-line.json; auto-compression.ts, SCREEN_BELOW and SCREEN_ABOVE).
 * Compressed in pieces of deflate's window (32 KiB), so zstd cannot count on repeats further
 * apart than gzip can reach (a file with a long period would otherwise look compressible).
 */
export function zstdRatio(sample: Uint8Array): number {
  if (sample.length === 0) return 1;
  let compressed = 0;
  for (let at = 0; at < sample.length; at += DEFLATE_WINDOW) {
    compressed += Bun.zstdCompressSync(sample.subarray(at, at + DEFLATE_WINDOW) as Uint8Array<ArrayBuffer>, { level: 1 }).length;
  }
  return compressed / sample.length;
}

/** How far back deflate (so gzip) can find a repeat. */
const DEFLATE_WINDOW = 32 << 10;

/**
 * Wraps a node Transform as a web TransformStream; the web side's backpressure bounds buffered
 * output to one chunk's worth. Once the web side is done (errored, cancelled by its reader, or
 * failed by the transform) the node stream is destroyed and its late output dropped: zlib emits
 * data after a consumer stopped, and enqueueing it then would throw where nothing catches it.
 */
function toWebTransform(t: Transform): ByteTransform {
  let failed: unknown;
  let done = false;
  // Bun's zstd decoder ends at the end of a frame, before the write that carried it returns and
  // before flush() could listen for it: remember it, or flush would wait forever.
  let ended = false;
  t.once("end", () => {
    ended = true;
  });
  const stop = (): void => {
    done = true;
    t.destroy();
  };
  return new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      t.on("data", (d: Buffer) => {
        if (done) return;
        try {
          controller.enqueue(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
        } catch {
          stop(); // the readable side is gone
        }
      });
      t.on("error", (e) => {
        failed ??= e;
        if (done) return;
        done = true;
        try {
          controller.error(e);
        } catch {
          // already errored or closed
        }
      });
    },
    transform(chunk) {
      if (done) return failed ? Promise.reject(failed) : undefined;
      if (ended) return Promise.reject(new Error("trailing data after the end of the compressed stream"));
      return new Promise<void>((resolve, reject) => {
        t.write(chunk, (err) => (err ? reject(err) : failed ? reject(failed) : resolve()));
      });
    },
    flush() {
      return new Promise<void>((resolve, reject) => {
        if (failed) return reject(failed);
        if (ended) return resolve();
        t.once("end", resolve);
        t.once("error", reject);
        t.end();
      });
    },
    cancel() {
      stop();
    },
  } as Transformer<Uint8Array, Uint8Array> & { cancel(): void });
}
