/** Tar writing: tar-stream pack vs our header writer, then whole layers to disk through the pool. */
import { rmSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tarStream from "tar-stream";
import { planTarEntries } from "../src/archive/tar-entries.ts";
import { TAR_END, tarHeader, tarPadding } from "../src/archive/tar-header.ts";
import { copyLayer } from "../src/hash/copy-layer.ts";
import { createWorkerPool } from "../src/hash/pool.ts";
import { writeBufferedLayer } from "../src/hash/write-layer.ts";
import { bestOf, mbps, printTable, writeResults } from "./lib/table.ts";

const FILES = 25;
const FILE_SIZE = 10 << 20; // 250 MiB in all, like workload A at half size
const RUNS = 3;

const dir = await mkdtemp(join(tmpdir(), "2dfs-bench-tar-"));
const srcs: string[] = [];
for (let i = 0; i < FILES; i++) {
  const f = new Float32Array(FILE_SIZE / 4);
  for (let j = 0; j < f.length; j++) f[j] = Math.random() * 2 - 1;
  srcs.push(join(dir, `f${i}.bin`));
  await Bun.write(srcs[i]!, f);
}
const total = FILES * FILE_SIZE;
const entries = planTarEntries(srcs.map((src, i) => ({ src, dst: `/model/part-${i}.bin`, size: FILE_SIZE, executable: false })));

// Header-heavy archive: many small files, both writers feeding the same sink, which copies into an 8 MiB buffer
// as a file writer would (a sink that only counted would measure nothing: neither writer copies data itself).
const SMALL = 20_000;
const small = planTarEntries(Array.from({ length: SMALL }, (_, i) => ({ src: "", dst: `/usr/share/pkg-${i % 200}/file-${i}.txt`, size: 512 + ((i * 977) % 8192), executable: i % 7 === 0 })));
const smallData = new Uint8Array(8192 + 512).fill(97);
const smallTotal = small.reduce((n, e) => n + 512 + e.size + tarPadding(e.size).length, 1024);
const sinkBuf = new Uint8Array(8 << 20);
let sinkPos = 0;
let sinkTotal = 0;
const sink = (c: Uint8Array) => {
  for (let from = 0; from < c.length; ) {
    const n = Math.min(c.length - from, sinkBuf.length - sinkPos);
    sinkBuf.set(c.subarray(from, from + n), sinkPos);
    sinkPos = (sinkPos + n) % sinkBuf.length;
    from += n;
  }
  sinkTotal += c.length;
};

const tarStreamPack = () =>
  new Promise<void>((resolve, reject) => {
    const pack = tarStream.pack();
    pack.on("data", (c) => sink(c as Buffer));
    pack.on("end", resolve);
    pack.on("error", reject);
    (async () => {
      for (const e of small) {
        const header = { name: e.path, mode: e.mode, uid: 0, gid: 0, mtime: new Date(946684800000) };
        await new Promise<void>((done, fail) => {
          const cb = (err?: Error | null) => (err ? fail(err) : done());
          if (e.type === "dir") pack.entry({ ...header, type: "directory" }, cb);
          else pack.entry({ ...header, type: "file", size: e.size }, Buffer.from(smallData.buffer, 0, e.size), cb);
        });
      }
      pack.finalize();
    })().catch(reject);
  });

const ourWriter = () => {
  for (const e of small) {
    sink(tarHeader(e));
    if (e.type === "file") {
      sink(smallData.subarray(0, e.size));
      sink(tarPadding(e.size));
    }
  }
  sink(TAR_END);
};

const tTarStream = await bestOf(RUNS, tarStreamPack, () => (sinkTotal = 0));
const packed = sinkTotal;
const tOurs = await bestOf(RUNS, ourWriter, () => (sinkTotal = 0));
if (packed !== sinkTotal || packed !== smallTotal) throw new Error(`tar sizes differ: tar-stream ${packed}, ours ${sinkTotal}`);

// Whole layers to disk: one layer per file, as a build of workload A does; output files are removed between runs.
const out = join(dir, "out");
const pool = createWorkerPool({ workers: 2 });
const layerRows: Record<string, string | number>[] = [];
const layers: Record<string, number> = {};
for (const compression of ["none", "zstd"] as const) {
  const files = entries.filter((e) => e.type === "file");
  const s = await bestOf(
    RUNS,
    () => Promise.all(files.map((e, i) => pool.writeLayer({ entries: planTarEntries([{ src: e.src!, dst: `/${e.path}`, size: e.size, executable: false }]), compression, outPath: join(out, `l${i}`) }))),
    async () => {
      await rm(out, { recursive: true, force: true });
      await mkdir(out);
      Bun.spawnSync(["sync"]); // earlier runs' dirty pages must not be flushed inside this one
    },
  );
  layers[compression] = mbps(total, s);
  layerRows.push({ compression, layers: FILES, "seconds": Math.round(s * 1000) / 1000, "MB/s (total)": mbps(total, s) });
}
await pool.close();

// Uncompressed layers, the two writers on the same data and one thread: the buffered writer
// (tar assembled in reused 2 MiB buffers, written from JavaScript) vs copyLayer (bodies copied by
// copy_file_range, the finished file hashed). "first layer" is one layer in a fresh process, as
// a rebuild after one changed split writes it: fresh buffers are paid there.
const writers = { buffered: writeBufferedLayer, copy: copyLayer } as const;
const writerRows: Record<string, string | number>[] = [];
const writerResults: Record<string, { firstLayerMs: number; allLayersMBps: number }> = {};
for (const [name, write] of Object.entries(writers)) {
  const firstLayerMs = Math.min(
    ...Array.from({ length: RUNS }, () => {
      rmSync(join(out, "first"), { force: true });
      Bun.spawnSync(["sync"]);
      const code = `const { ${write.name} } = await import(${JSON.stringify(join(import.meta.dir, "..", "src", "hash", name === "copy" ? "copy-layer.ts" : "write-layer.ts"))});
        const entries = ${JSON.stringify(planTarEntries([{ src: srcs[0]!, dst: "/model/part-0.bin", size: FILE_SIZE, executable: false }]))};
        const t = performance.now();
        await ${write.name}({ entries, compression: "none", outPath: ${JSON.stringify(join(out, "first"))} });
        console.log(performance.now() - t);`;
      const child = Bun.spawnSync([process.execPath, "-e", code], { env: process.env });
      if (child.exitCode !== 0) throw new Error(`${name} child failed: ${child.stderr.toString()}`);
      return Number(child.stdout.toString().trim());
    }),
  );
  const files = entries.filter((e) => e.type === "file");
  const s = await bestOf(
    RUNS,
    async () => {
      for (const [i, e] of files.entries()) {
        await write({ entries: planTarEntries([{ src: e.src!, dst: `/${e.path}`, size: e.size, executable: false }]), compression: "none", outPath: join(out, `w${i}`) });
      }
    },
    async () => {
      await rm(out, { recursive: true, force: true });
      await mkdir(out);
      Bun.spawnSync(["sync"]);
    },
  );
  writerResults[name] = { firstLayerMs: Math.round(firstLayerMs * 10) / 10, allLayersMBps: mbps(total, s) };
  writerRows.push({ writer: name === "copy" ? "copyLayer (copy_file_range)" : "writeBufferedLayer", "first layer, fresh process, ms": writerResults[name].firstLayerMs, [`${FILES} layers, MB/s`]: mbps(total, s) });
}

printTable(`Tar writing, ${small.length} entries (${SMALL} small files, ${(smallTotal / 1e6).toFixed(0)} MB), copying sink (best of ${RUNS})`, [
  { writer: "tar-stream pack", "MB/s": mbps(smallTotal, tTarStream), "entries/s": Math.round(small.length / tTarStream) },
  { writer: "tarHeader + tarPadding", "MB/s": mbps(smallTotal, tOurs), "entries/s": Math.round(small.length / tOurs) },
]);
printTable(`Layers to disk: ${FILES} x ${FILE_SIZE >> 20} MiB float32 noise, pool of 2 workers, native SHA-256`, layerRows);
printTable(`Uncompressed layer writers, same ${FILE_SIZE >> 20} MiB sources, one thread (best of ${RUNS})`, writerRows);
await writeResults("tar", { smallFiles: { tarStream: mbps(smallTotal, tTarStream), ours: mbps(smallTotal, tOurs) }, layers, uncompressedWriters: writerResults });
await rm(dir, { recursive: true, force: true });
