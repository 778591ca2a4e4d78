/**
 * Running SHA-256 hashes of files that grow, keyed by a caller's id (an upload session). Each
 * hash remembers how many bytes it has taken; asked to continue from another offset (after a
 * restart, an eviction or a lost worker), it hashes the file again from its start, so a wrong
 * answer is never possible, only a slower one.
 */
import { updateFromFile } from "./hash-file.ts";

type Hasher = InstanceType<typeof Bun.CryptoHasher>;

/** The hashes of one thread. */
export interface SessionHashes {
  /** Adds bytes [from, to) of the file at `path` to `key`'s hash. */
  update(key: string, path: string, from: number, to: number): Promise<void>;
  /** The hex SHA-256 of the first `size` bytes of the file at `path`; forgets `key`. */
  digest(key: string, path: string, size: number): Promise<string>;
  drop(key: string): void;
}

/** Creates an empty set of hashes of local files holding at most `maxEntries` (the least recently used go first). */
export function createSessionHashes(opts: { maxEntries?: number } = {}): SessionHashes {
  const maxEntries = opts.maxEntries ?? 1024;
  const running = new Map<string, { offset: number; hasher: Hasher }>();

  // A hasher that has taken exactly `from` bytes of `path`, taken out of the map.
  const at = async (key: string, path: string, from: number): Promise<Hasher> => {
    const entry = running.get(key);
    running.delete(key);
    if (entry && entry.offset === from) return entry.hasher;
    const hasher = new Bun.CryptoHasher("sha256");
    if (from > 0 && (await updateFromFile(hasher, path, 0, from)) !== from) throw new Error(`${path}: shorter than ${from} bytes`);
    return hasher;
  };

  return {
    async update(key, path, from, to) {
      const hasher = await at(key, path, from);
      if ((await updateFromFile(hasher, path, from, to)) !== to - from) throw new Error(`${path}: shorter than the ${to} bytes stored`);
      running.set(key, { offset: to, hasher });
      while (running.size > maxEntries) running.delete(running.keys().next().value!);
    },
    async digest(key, path, size) {
      return (await at(key, path, size)).digest("hex");
    },
    drop(key) {
      running.delete(key);
    },
  };
}
