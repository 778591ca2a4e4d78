/**
 * Which blobs came from upstream, in least-recently-used order, and eviction under
 * `--cache-max`. Each cached blob has a record file (size and the repositories it was linked
 * into), so the index survives a restart (ordered by record time then; a record whose blob is gone,
 * say removed by `2dfs gc` while the edge was down, is dropped). Content pushed to the
 * edge itself is never evicted: before evicting, every repository is checked for a link the
 * cache did not make.
 */
import { type Digest, parseDigest } from "../../oci/digest.ts";
import type { StorageDriver } from "../driver/driver.ts";
import type { Metrics } from "../metrics.ts";
import { listRepositories } from "../services/catalog.ts";
import { blobDataPath, layerLinkPath } from "../storage/paths.ts";

const RECORDS = "_upstream/blobs";

interface Entry {
  size: number;
  repos: string[];
}

/** The index of upstream blobs. */
export interface CacheIndex {
  /** Records a blob fetched from upstream and linked into `name`; evicts past the cap. */
  add(digest: Digest, size: number, name: string): Promise<void>;
  /** Marks a blob as just used (no-op for blobs that did not come from upstream). */
  touch(digest: Digest): void;
  /**
   * Keeps `digest` from eviction until the returned function is called (held around its `add`,
   * so a pass another add started cannot evict it meanwhile). Blobs being served are not pinned.
   */
  pin(digest: Digest): () => void;
}

const recordPath = (digest: Digest) => {
  const { algorithm, hex } = parseDigest(digest);
  return `${RECORDS}/${algorithm}-${hex}`;
};

/** Loads the index from storage; `maxBytes` undefined means no eviction. */
export async function createCacheIndex(driver: StorageDriver, metrics: Metrics, maxBytes: number | undefined, log: (line: string) => void): Promise<CacheIndex> {
  const lru = new Map<Digest, Entry>();
  const pins = new Map<Digest, number>();
  let total = 0;
  const loaded: { digest: Digest; entry: Entry; modified: number }[] = [];
  let gone = 0;
  for (const file of await driver.list(RECORDS)) {
    const digest = file.replace("-", ":") as Digest;
    const [bytes, stat, data] = await Promise.all([driver.read(`${RECORDS}/${file}`), driver.stat(`${RECORDS}/${file}`), driver.stat(blobDataPath(digest))]);
    if (!bytes || !stat) continue;
    if (!data) {
      // Its blob went meanwhile (`2dfs gc` while the edge was down): counting it would evict early.
      await driver.delete(`${RECORDS}/${file}`);
      gone++;
      continue;
    }
    try {
      loaded.push({ digest, entry: JSON.parse(new TextDecoder().decode(bytes)) as Entry, modified: stat.modified });
    } catch {
      await driver.delete(`${RECORDS}/${file}`);
    }
  }
  for (const l of loaded.sort((a, b) => a.modified - b.modified)) {
    lru.set(l.digest, l.entry);
    total += l.entry.size;
  }
  metrics.setCacheBytes(total);
  if (gone > 0) log(`cache: ${gone} record(s) of blobs no longer stored dropped (removed by gc?)`);

  const pushedHere = async (digest: Digest, entry: Entry, repositories: string[]): Promise<boolean> => {
    for (const repo of repositories) {
      if (!entry.repos.includes(repo) && (await driver.stat(layerLinkPath(repo, digest)))) return true;
    }
    return false;
  };

  const forget = (digest: Digest, entry: Entry) => {
    lru.delete(digest);
    total -= entry.size;
    metrics.setCacheBytes(total);
  };

  let evicting = false;
  const evict = async () => {
    if (maxBytes === undefined || evicting) return;
    evicting = true;
    try {
      // Walked once per pass, when the first blob goes.
      let repositories: string[] | undefined;
      for (const [digest, entry] of [...lru]) {
        if (total <= maxBytes) break;
        if (pins.has(digest)) continue;
        forget(digest, entry);
        await driver.delete(recordPath(digest));
        repositories ??= await listRepositories(driver);
        if (await pushedHere(digest, entry, repositories)) continue;
        for (const repo of entry.repos) await driver.delete(layerLinkPath(repo, digest).slice(0, -"/link".length));
        await driver.delete(blobDataPath(digest).slice(0, -"/data".length));
        metrics.evicted(entry.size);
        log(`cache: evicted ${digest} (${entry.size} bytes) to stay under --cache-max ${maxBytes}`);
      }
    } finally {
      evicting = false;
    }
  };

  return {
    async add(digest, size, name) {
      const old = lru.get(digest);
      const entry: Entry = old ? { size, repos: [...new Set([...old.repos, name])] } : { size, repos: [name] };
      if (old) forget(digest, old);
      await driver.write(recordPath(digest), new TextEncoder().encode(JSON.stringify(entry)));
      lru.set(digest, entry);
      total += size;
      metrics.setCacheBytes(total);
      await evict();
    },
    touch(digest) {
      const entry = lru.get(digest);
      if (!entry) return;
      lru.delete(digest);
      lru.set(digest, entry);
    },
    pin(digest) {
      pins.set(digest, (pins.get(digest) ?? 0) + 1);
      return () => {
        const n = (pins.get(digest) ?? 1) - 1;
        if (n <= 0) pins.delete(digest);
        else pins.set(digest, n);
      };
    },
  };
}
