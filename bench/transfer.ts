/**
 * How bytes get from a socket to a verified file, both ways, on the same data: 20 blobs of
 * 10 MB, 4 at a time over 127.0.0.1, each case timed side by side in one run (min of 5).
 *
 *  download (the `2dfs pull` side), from two servers: the distribution registry (what users
 *  pull from; its blobs pushed first) and a Bun child process that serves the files with sendfile:
 *    js-chunks   fetch, iterate the body's chunks in JavaScript, hash each and write it (FileSink)
 *    native      Bun.write(path, response), then hash the file in 256 KiB reads (2dfs over TLS,
 *                or to a registry named by host name)
 *    native, no hash   the floor of fetch: the same write without verifying
 *    own socket  2dfs's own socket (src/client/transport/socket-http-get.ts): one reused 256 KiB buffer,
 *                each piece hashed, then written (2dfs from plain-HTTP registries by IP address)
 *  upload (the `2dfs serve` side; a child process receives PUTs, this process sends files):
 *    js-chunks   iterate the request body's chunks, hash each and writeSync it
 *    whole body  await request.bytes(), hash, write (fresh memory for every body)
 *    native      Bun.write(path, new Response(body)), then hash the file (what 2dfs serve does)
 *
 *   bun bench/transfer.ts
 */
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { hashFile } from "../src/hash/hash-file.ts";
import { sha256Bytes } from "../src/hash/sha256.ts";
import { socketGet, socketTarget } from "../src/client/transport/socket-http-get.ts";
import { writeFully } from "../src/util/copy-file-range.ts";
import { hasTool, makeTempDir, removeTempDir, startDistribution } from "../test/e2e/support/index.ts";
import { bestOf, mbps, printTable, writeResults } from "./lib/table.ts";
import { writeSplits } from "./lib/tools.ts";

const BLOBS = 20;
const BLOB_BYTES = 10_000_000;
const PARALLEL = 4;
const RUNS = 5;

type ServeMode = "files" | "js-chunks" | "whole body" | "native";

// Child process: `bun bench/transfer.ts --serve MODE DIR` prints its port, then serves.
if (process.argv[2] === "--serve") {
  const mode = process.argv[3] as ServeMode;
  const dir = process.argv[4]!;
  let n = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    maxRequestBodySize: 1 << 30,
    async fetch(req) {
      const url = new URL(req.url);
      if (mode === "files") return new Response(Bun.file(join(dir, url.pathname.slice(1))));
      const path = join(dir, `in-${process.pid}-${n++}`);
      if (mode === "js-chunks") {
        const hasher = new Bun.CryptoHasher("sha256");
        const fd = openSync(path, "w");
        try {
          for await (const chunk of req.body!) {
            hasher.update(chunk);
            writeSync(fd, chunk);
          }
        } finally {
          closeSync(fd);
        }
        hasher.digest("hex");
      } else if (mode === "whole body") {
        const bytes = await req.bytes();
        new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
        await Bun.write(path, bytes);
      } else {
        await Bun.write(path, new Response(req.body));
        await hashFile(path);
      }
      rmSync(path);
      return new Response(null, { status: 201 });
    },
  });
  console.log(server.port);
} else {
  await main();
}

async function startServer(mode: ServeMode, dir: string): Promise<{ port: number; stop(): void }> {
  const proc = Bun.spawn([process.execPath, import.meta.path, "--serve", mode, dir], { stdout: "pipe", stderr: "inherit" });
  const reader = proc.stdout.getReader();
  const { value } = await reader.read();
  const port = Number(new TextDecoder().decode(value).trim());
  if (!port) throw new Error(`transfer bench: the ${mode} server did not start`);
  return { port, stop: () => proc.kill() };
}

async function inParallel(items: string[], fn: (item: string) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: PARALLEL }, async () => {
    while (queue.length) await fn(queue.shift()!);
  }));
}

async function main(): Promise<void> {
  const work = await makeTempDir("bench-transfer");
  const stops: (() => void)[] = [];
  try {
    const src = join(work, "src");
    const names = await writeSplits(src, BLOBS, BLOB_BYTES);
    const out = join(work, "out");
    const total = BLOBS * BLOB_BYTES;
    const freshOut = () => {
      rmSync(out, { recursive: true, force: true });
      mkdirSync(out);
    };
    const rows: Record<string, string | number>[] = [];
    const record = (direction: string, how: string, seconds: number) => {
      rows.push({ direction, how, "min s": Number(seconds.toFixed(3)), "MB/s": Math.round(mbps(total, seconds)) });
      console.log(`  ${direction} ${how}: ${seconds.toFixed(3)} s`);
    };

    // Where each blob is downloaded from: the Bun file server, and distribution when installed.
    const sources: { name: string; url: (name: string) => string }[] = [];
    const files = await startServer("files", src);
    stops.push(files.stop);
    sources.push({ name: "bun serve", url: (name) => `http://127.0.0.1:${files.port}/${name}` });
    if (hasTool("docker-registry")) {
      const dist = await startDistribution();
      stops.push(() => void dist.stop());
      const digests = new Map<string, string>();
      for (const name of names) {
        const digest = sha256Bytes(await Bun.file(join(src, name)).bytes());
        digests.set(name, digest);
        const start = await fetch(`http://${dist.url}/v2/bench/blobs/uploads/`, { method: "POST" });
        const location = new URL(start.headers.get("location")!, `http://${dist.url}`);
        location.searchParams.set("digest", digest);
        const put = await fetch(location, { method: "PUT", body: Bun.file(join(src, name)) });
        if (put.status !== 201) throw new Error(`distribution: push answered ${put.status}`);
      }
      sources.push({ name: "distribution", url: (name) => `http://${dist.url}/v2/bench/blobs/${digests.get(name)}` });
    }
    for (const source of sources) {
      const downloads: Record<string, (name: string) => Promise<void>> = {
        "js-chunks": async (name) => {
          const res = await fetch(source.url(name));
          const hasher = new Bun.CryptoHasher("sha256");
          const fd = openSync(join(out, name), "w");
          const sink = Bun.file(fd).writer({ highWaterMark: 1 << 20 });
          for await (const chunk of res.body!) {
            hasher.update(chunk);
            sink.write(chunk);
          }
          await sink.end();
          closeSync(fd);
          hasher.digest("hex");
        },
        native: async (name) => {
          await Bun.write(join(out, name), await fetch(source.url(name)));
          await hashFile(join(out, name));
        },
        "native, no hash": async (name) => {
          await Bun.write(join(out, name), await fetch(source.url(name)));
        },
        "own socket": async (name) => {
          const url = new URL(source.url(name));
          const answer = await socketGet(socketTarget(url.origin)!, url.pathname, {}, 60_000);
          if (answer?.status !== 200) throw new Error(`own socket: ${answer ? `answered ${answer.status}` : "no libc"}`);
          const hasher = new Bun.CryptoHasher("sha256");
          const fd = openSync(join(out, name), "w");
          try {
            await answer.readBody((piece) => {
              hasher.update(piece);
              writeFully(fd, piece);
            });
          } finally {
            closeSync(fd);
            answer.close();
          }
          hasher.digest("hex");
        },
      };
      for (const [how, one] of Object.entries(downloads)) {
        record(`download from ${source.name}`, how, await bestOf(RUNS, () => inParallel(names, one), freshOut));
      }
    }
    for (const stop of stops.splice(0)) stop();

    for (const mode of ["js-chunks", "whole body", "native"] as const) {
      const server = await startServer(mode, out);
      stops.push(server.stop);
      const send = async (name: string) => {
        const res = await fetch(`http://127.0.0.1:${server.port}/`, { method: "PUT", body: Bun.file(join(src, name)) });
        if (res.status !== 201) throw new Error(`upload answered ${res.status}`);
      };
      record("upload", mode, await bestOf(RUNS, () => inParallel(names, send), freshOut));
      server.stop();
    }

    printTable(`Moving ${BLOBS} x ${BLOB_BYTES / 1e6} MB over 127.0.0.1, ${PARALLEL} at a time, verified (min of ${RUNS})`, rows);
    await writeResults("transfer", { blobs: BLOBS, blobBytes: BLOB_BYTES, parallel: PARALLEL, runs: RUNS, rows });
  } finally {
    for (const stop of stops) stop();
    await removeTempDir(work);
  }
}
