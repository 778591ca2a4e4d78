/** Lists the regular files of a (possibly compressed) layer tar without extracting it. */
import { type Compression, createDecompressor, detectFileCompression } from "./compress.ts";
import { indexUncompressedTar } from "./tar-index.ts";
import { parseTarStream } from "./tar-reader.ts";

/** A file inside a layer. */
export interface TarFileInfo {
  path: string;
  size: number;
}

/** Streams through the layer at `path` and returns its regular files (directories left out); `compression` when the caller has detected it already. */
export async function listTarFiles(path: string, compression?: Compression): Promise<TarFileInfo[]> {
  compression ??= await detectFileCompression(path);
  // An uncompressed layer (model weights) can be listed from its headers alone.
  if (compression === "none") {
    const entries = await indexUncompressedTar(path);
    return entries.filter((e) => e.type === "file" || e.type === "contiguous-file").map((e) => ({ path: `/${e.name.replace(/^\.?\//, "")}`, size: e.size }));
  }
  const tar = parseTarStream(createDecompressor(compression)(Bun.file(path).stream()));
  const files: TarFileInfo[] = [];
  for await (const entry of tar.entries) {
    if (entry.header.type === "file") files.push({ path: `/${entry.header.name.replace(/^\.?\//, "")}`, size: entry.header.size ?? 0 });
    entry.resume();
  }
  await tar.finished;
  return files;
}
