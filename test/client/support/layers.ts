/** Builds small layer tars and 2DFS images by hand for the client tests. */
import { createHash } from "node:crypto";
import { pack } from "tar-stream";

/** One tar entry to write. */
export interface FakeEntry {
  name: string;
  type?: "file" | "directory" | "symlink" | "link" | "fifo" | "character-device";
  content?: string | Uint8Array;
  linkname?: string;
  mode?: number;
}

/** An uncompressed tar of the entries, in the order given. */
export async function makeTar(entries: FakeEntry[]): Promise<Uint8Array> {
  const p = pack();
  const chunks: Uint8Array[] = [];
  const done = (async () => {
    for await (const c of p as AsyncIterable<Uint8Array>) chunks.push(c);
  })();
  for (const e of entries) {
    const content = typeof e.content === "string" ? new TextEncoder().encode(e.content) : (e.content ?? new Uint8Array());
    const type = e.type ?? "file";
    await new Promise<void>((resolve, reject) => {
      const header = { name: e.name, type, mode: e.mode ?? (type === "directory" ? 0o755 : 0o644), linkname: e.linkname, mtime: new Date(946684800000) };
      if (type === "file") p.entry({ ...header, size: content.byteLength }, content, (err) => (err ? reject(err) : resolve()));
      else (p.entry(header, (err) => (err ? reject(err) : resolve())) as unknown as { end(): void }).end();
      if (type !== "file") resolve();
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** `sha256:<hex>` computed with node:crypto, independently of the code under test. */
export function sha256(bytes: Uint8Array | string): `sha256:${string}` {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}
