/** Lists the regular files of a (possibly compressed) layer tar without extracting it. */
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import tar from "tar-stream";
import { createDecompressor, detectCompression } from "./compress.ts";
import { open } from "node:fs/promises";

/** A file inside a layer. */
export interface TarFileInfo {
  path: string;
  size: number;
}

/** Streams through the layer at `path` and returns its regular files (directories left out). */
export async function listTarFiles(path: string): Promise<TarFileInfo[]> {
  const head = new Uint8Array(4);
  const handle = await open(path, "r");
  try {
    await handle.read(head, 0, 4, 0);
  } finally {
    await handle.close();
  }
  const raw = Readable.toWeb(createReadStream(path, { highWaterMark: 1 << 20 })) as ReadableStream<Uint8Array>;
  const plain = createDecompressor(detectCompression(head))(raw);
  const extract = tar.extract();
  const files: TarFileInfo[] = [];
  const done = new Promise<void>((resolve, reject) => {
    extract.on("entry", (header, stream, next) => {
      if (header.type === "file") files.push({ path: `/${header.name.replace(/^\.?\//, "")}`, size: header.size ?? 0 });
      stream.on("end", next);
      stream.resume();
    });
    extract.on("finish", resolve);
    extract.on("error", reject);
  });
  Readable.fromWeb(plain as import("node:stream/web").ReadableStream).pipe(extract);
  await done;
  return files;
}
