/** An in-memory storage driver, for tests and throwaway registries. */
import { type AppendSource, type ObjectStat, type StorageDriver, parseStoragePath } from "./driver.ts";

interface Entry {
  chunks: Uint8Array[];
  size: number;
  modified: number;
}

/** Creates an empty in-memory driver. */
export function createMemoryDriver(): StorageDriver {
  const files = new Map<string, Entry>();
  // Folder -> child names, so list() and folder deletes never scan every file.
  const children = new Map<string, Set<string>>();
  const addPath = (key: string) => {
    let path = key;
    while (path !== "") {
      const slash = path.lastIndexOf("/");
      const parent = slash < 0 ? "" : path.slice(0, slash);
      let set = children.get(parent);
      if (!set) children.set(parent, (set = new Set()));
      if (set.has(path.slice(slash + 1))) return;
      set.add(path.slice(slash + 1));
      path = parent;
    }
  };
  const removePath = (key: string) => {
    const sub = children.get(key);
    if (sub) {
      for (const child of sub) removePath(key === "" ? child : `${key}/${child}`);
      children.delete(key);
    }
    files.delete(key);
    // Prune folders left empty, as a file system listing would not show them either.
    let path = key;
    while (path !== "") {
      const slash = path.lastIndexOf("/");
      const parent = slash < 0 ? "" : path.slice(0, slash);
      const set = children.get(parent);
      if (!set) return;
      set.delete(path.slice(slash + 1));
      if (set.size > 0 || parent === "") return;
      children.delete(parent);
      path = parent;
    }
  };
  const setFile = (key: string, entry: Entry) => {
    files.set(key, entry);
    addPath(key);
  };
  // Folds an entry's chunks into one buffer so reads are cheap after many appends.
  const bytesOf = (entry: Entry): Uint8Array => {
    if (entry.chunks.length !== 1) {
      const out = new Uint8Array(entry.size);
      let at = 0;
      for (const c of entry.chunks) {
        out.set(c, at);
        at += c.byteLength;
      }
      entry.chunks = [out];
    }
    return entry.chunks[0]!;
  };
  const get = (path: string): Entry | undefined => files.get(parseStoragePath(path));
  return {
    async stat(path): Promise<ObjectStat | undefined> {
      const e = get(path);
      return e && { size: e.size, modified: e.modified };
    },
    async read(path) {
      const e = get(path);
      return e && bytesOf(e).slice();
    },
    reader(path, offset = 0, end) {
      const e = get(path);
      return new ReadableStream<Uint8Array>({
        start(controller) {
          if (!e) return controller.error(new Error(`no such object: ${path}`));
          const bytes = bytesOf(e);
          controller.enqueue(bytes.slice(offset, end ?? bytes.byteLength));
          controller.close();
        },
      });
    },
    async write(path, bytes) {
      setFile(parseStoragePath(path), { chunks: [bytes.slice()], size: bytes.byteLength, modified: Date.now() });
    },
    async append(path, data: AppendSource) {
      const key = parseStoragePath(path);
      let e = files.get(key);
      if (!e) setFile(key, (e = { chunks: [], size: 0, modified: Date.now() }));
      const add = (c: Uint8Array) => {
        e.chunks.push(c.slice());
        e.size += c.byteLength;
      };
      if (data instanceof Uint8Array) add(data);
      else for await (const c of data) add(c);
      e.modified = Date.now();
      return e.size;
    },
    async truncate(path, size) {
      const e = get(path);
      if (!e || e.size <= size) return;
      const bytes = bytesOf(e).slice(0, size);
      e.chunks = [bytes];
      e.size = size;
    },
    async move(from, to) {
      const e = get(from);
      if (!e) throw new Error(`no such object: ${from}`);
      removePath(parseStoragePath(from));
      setFile(parseStoragePath(to), e);
    },
    async delete(path) {
      removePath(parseStoragePath(path));
    },
    async list(prefix) {
      return [...(children.get(parseStoragePath(prefix)) ?? [])].sort();
    },
  };
}
