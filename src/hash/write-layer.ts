/** Writes one layer (tar -> optional compression -> file), hashing tar and stored bytes; uncompressed layers go to copy-layer.ts (kernel copies). */
import { open, rm, type FileHandle } from "node:fs/promises";
import type { Transform } from "node:stream";
import type { Digest } from "../oci/digest.ts";
import type { TarEntry } from "../archive/tar-entries.ts";
import { TAR_END, tarHeader, tarPadding } from "../archive/tar-header.ts";
import { createNodeCompressor, gzipMember, type Compression } from "../archive/compress.ts";
import { decideCompression } from "../archive/auto-compression.ts";
import { createSha256, type HashEngine, type Sha256 } from "./sha256.ts";
import { CHUNK_SIZE, checkSourceSize, releaseChunk, SourceChangedError, takeChunk } from "./read-chunks.ts";
import { copyLayer } from "./copy-layer.ts";
import type { WriteLayerJob, WriteLayerResult } from "./layer-job.ts";
import { kernelCopyAvailable } from "../util/copy-file-range.ts";

/**
 * The codec `auto` picks for data worth compressing. zstd is faster and smaller
 * (bench/compress.ts), but Docker before 23.0 (Debian 12 ships 20.10) cannot pull zstd layers,
 * so `auto` stays with gzip: at gzip's default level where the sample shrinks by half or more
 * (its bytes are then exactly those of `--compression gzip`), at level 1 between --min-saving and
 * that, where level 6 gains a point for twice the time (auto-compression.ts, FULL_LEVEL_SAVING).
 * `--compression zstd` is there for runtimes that take it.
 */
export const AUTO_CODEC: Exclude<Compression, "none"> = "gzip";
/** Compressed output allowed to queue for the disk before the compressor is made to wait. */
const MAX_QUEUED_OUTPUT = 32 << 20;

/** Writes the layer described by `job`; each source is read once, and partial output is removed on failure. */
export async function writeLayer(job: WriteLayerJob, engine?: HashEngine): Promise<WriteLayerResult> {
  if (job.compression !== "auto") return writeAs({ ...job, compression: job.compression }, engine);
  const auto = await decideCompression(job.entries, job.minSaving);
  const result = await writeAs({ ...job, compression: auto.compress ? AUTO_CODEC : "none", level: auto.level }, engine);
  return { ...result, auto };
}

function writeAs(job: WriteLayerJob & { compression: Compression }, engine?: HashEngine): Promise<WriteLayerResult> {
  // Uncompressed layers are copied by the kernel (bench/build.ts: see README, "Library choices").
  if (job.compression === "none" && kernelCopyAvailable()) return copyLayer(job, engine);
  return writeBufferedLayer(job, engine);
}

/**
 * Writes the layer through this thread: tar bytes are assembled in reused buffers, hashed, and
 * compressed or written as they are. The path for compressed layers, and for uncompressed ones
 * where the kernel cannot copy.
 */
export async function writeBufferedLayer(job: WriteLayerJob & { compression: Compression }, engine?: HashEngine): Promise<WriteLayerResult> {
  const { compression, level } = job;
  // A fresh file, not a truncated one: ext4 flushes a truncated-and-rewritten file on close (auto_da_alloc).
  await rm(job.outPath, { force: true });
  const out = await open(job.outPath, "w");
  let sink: LayerSink | undefined;
  try {
    sink = await createLayerSink(out, compression, level, engine);
    for (const entry of job.entries) {
      await sink.put(tarHeader(entry));
      if (entry.type === "file" && entry.size > 0) {
        await copySource(entry, sink);
        await sink.put(tarPadding(entry.size));
      }
    }
    await sink.put(TAR_END);
    const result = await sink.finish();
    await out.close();
    return result;
  } catch (err) {
    await sink?.abort();
    await out.close().catch(() => {});
    await rm(job.outPath, { force: true });
    throw err;
  } finally {
    sink?.release();
  }
}

/** Streams one source file's bytes into the sink, reading straight into the sink's buffer; checks its size did not change. */
async function copySource(entry: TarEntry, sink: LayerSink): Promise<void> {
  if (!entry.src) throw new SourceChangedError(`tar entry "${entry.path}" has no source file`);
  const fh = await open(entry.src, "r");
  try {
    checkSourceSize(entry, (await fh.stat()).size, "planned");
    let offset = 0;
    while (offset < entry.size) {
      const { buf, pos, room } = sink.reserve();
      const want = Math.min(room, entry.size - offset);
      const { bytesRead } = await fh.read(buf, pos, want, offset);
      if (bytesRead === 0) throw new SourceChangedError(`source "${entry.src}" shrank while it was read`);
      offset += bytesRead;
      sink.commit(bytesRead);
      await sink.settle();
    }
    checkSourceSize(entry, (await fh.stat()).size, "read");
  } finally {
    await fh.close();
  }
}

interface LayerSink {
  /** The buffer region where the next tar bytes may be placed directly. */
  reserve(): { buf: Uint8Array; pos: number; room: number };
  /** Accepts `n` tar bytes placed at the reserved position. */
  commit(n: number): void;
  /** Copies tar bytes in (headers, padding), handing on buffers that fill up. */
  put(bytes: Uint8Array): Promise<void>;
  /** Waits while a full buffer is handed on (disk or compressor); call after commit. */
  settle(): Promise<void>;
  finish(): Promise<WriteLayerResult>;
  /** Waits for in-flight I/O after a failure, ignoring its errors. */
  abort(): Promise<void>;
  /** Returns the buffers for reuse; only after finish() or abort(). */
  release(): void;
}

/**
 * Double-buffered tar sink: while one CHUNK_SIZE (2 MiB) buffer is written (or compressed) on another thread,
 * the next is filled and hashed here. With no compression the tar is the stored blob, so it is hashed once.
 */
async function createLayerSink(out: FileHandle, compression: Compression, level: number | undefined, engine?: HashEngine): Promise<LayerSink> {
  const tarHash = await createSha256(engine);
  const stored = compression === "none" ? null : createStoredOutput(out, compression, level, await createSha256(engine));
  // gzip compresses a handed-on chunk before write() returns (createStoredOutput), so its buffer
  // is free at once and one is enough: a second would be 2 MiB of fresh memory for each thread,
  // ~9 ms to touch on these VMs (read-chunks.ts). The others write (or stream) it later.
  const buffers = compression === "gzip" ? [takeChunk()] : [takeChunk(), takeChunk()];
  let which = 0;
  let buf = buffers[0]!;
  let pos = 0;
  let tarSize = 0;
  let inFlight: Promise<unknown> = Promise.resolve();
  let full = false;

  const handOn = async (length: number): Promise<void> => {
    await inFlight; // the buffer we go on with must be out of use (and the disk keeping up)
    const chunk = buf.subarray(0, length);
    inFlight = stored ? stored.write(chunk) : writeAll(out, chunk);
    // Its failure is thrown by the next handOn, finish or abort, after more of the source is read:
    // until then it must not count as unhandled (that fails a worker thread, or the process).
    inFlight.catch(() => {});
    which = (which + 1) % buffers.length;
    buf = buffers[which]!;
    pos = 0;
  };

  const commit = (n: number): void => {
    tarHash.update(buf.subarray(pos, pos + n));
    pos += n;
    tarSize += n;
    full = pos === CHUNK_SIZE;
  };

  const settle = async (): Promise<void> => {
    if (!full) return;
    full = false;
    await handOn(CHUNK_SIZE);
  };

  return {
    reserve: () => ({ buf, pos, room: CHUNK_SIZE - pos }),
    commit,
    async put(bytes) {
      let from = 0;
      while (from < bytes.length) {
        const n = Math.min(bytes.length - from, CHUNK_SIZE - pos);
        buf.set(bytes.subarray(from, from + n), pos);
        commit(n);
        from += n;
        await settle();
      }
    },
    settle,
    async finish() {
      if (pos > 0) await handOn(pos);
      await inFlight;
      const diffId = tarHash.digest();
      if (!stored) return { diffId, digest: diffId, size: tarSize, tarSize, compression };
      const { digest, size } = await stored.end();
      return { diffId, digest, size, tarSize, compression };
    },
    async abort() {
      await inFlight.catch(() => {});
      stored?.destroy();
    },
    release: () => buffers.forEach(releaseChunk),
  };
}

interface StoredOutput {
  write(chunk: Uint8Array): Promise<void>;
  end(): Promise<{ digest: Digest; size: number }>;
  destroy(): void;
}

/**
 * Compressor -> (hash, file). gzip is one libdeflate member per tar chunk, compressed here, on
 * this thread; zstd goes through node:zlib's streaming compressor.
 */
function createStoredOutput(out: FileHandle, compression: Exclude<Compression, "none">, level: number | undefined, hash: Sha256): StoredOutput {
  const file = createAppendChain(out, hash);
  if (compression !== "gzip") return createStreamedOutput(createNodeCompressor(compression, level), file);
  let members = 0;
  const member = (chunk: Uint8Array) => {
    members++;
    file.append(gzipMember(chunk, level));
  };
  return {
    async write(chunk) {
      member(chunk); // before the first await: the caller reuses `chunk` as soon as this returns
      await file.drain(MAX_QUEUED_OUTPUT);
    },
    async end() {
      // A gzip stream has at least one member, even of nothing.
      if (members === 0) member(new Uint8Array(0));
      return file.end();
    },
    destroy: () => {},
  };
}

/** Output bytes hashed in order as they appear and appended to the file by a write chain. */
interface AppendChain {
  append(bytes: Uint8Array): void;
  /** Waits for the writes when more than `maxQueued` bytes wait for the disk; rethrows a failed write. */
  drain(maxQueued: number): Promise<void>;
  fail(error: unknown): void;
  end(): Promise<{ digest: Digest; size: number }>;
}

function createAppendChain(out: FileHandle, hash: Sha256): AppendChain {
  let size = 0;
  let queued = 0;
  let chain: Promise<void> = Promise.resolve();
  let failure: unknown;
  return {
    append(bytes) {
      hash.update(bytes);
      size += bytes.length;
      queued += bytes.length;
      chain = chain.then(() => writeAll(out, bytes)).then(() => void (queued -= bytes.length));
      chain.catch((e) => (failure ??= e));
    },
    async drain(maxQueued) {
      if (queued > maxQueued) await chain;
      if (failure) throw failure;
    },
    fail: (e) => void (failure ??= e),
    async end() {
      await chain;
      if (failure) throw failure;
      return { digest: hash.digest(), size };
    },
  };
}

/** A node Transform (zstd) feeding the append chain. */
function createStreamedOutput(codec: Transform, file: AppendChain): StoredOutput {
  codec.on("data", (d: Buffer) => file.append(d));
  codec.on("error", (e) => file.fail(e));
  return {
    async write(chunk) {
      await new Promise<void>((resolve, reject) => codec.write(chunk, (err) => (err ? reject(err) : resolve())));
      await file.drain(MAX_QUEUED_OUTPUT);
    },
    async end() {
      await new Promise<void>((resolve, reject) => {
        codec.once("end", resolve);
        codec.once("error", reject);
        codec.end();
      });
      return file.end();
    },
    destroy: () => void codec.destroy(),
  };
}

async function writeAll(out: FileHandle, chunk: Uint8Array): Promise<void> {
  let done = 0;
  while (done < chunk.length) {
    const { bytesWritten } = await out.write(chunk, done, chunk.length - done);
    done += bytesWritten;
  }
}
