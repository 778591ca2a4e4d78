/** A bounded least-recently-used map, capped by entry count and by a total weight (bytes). */

/** An LRU cache; `get` refreshes an entry, `set` evicts the oldest entries over the caps. */
export interface Lru<K, V> {
  get(key: K): V | undefined;
  set(key: K, value: V): void;
  delete(key: K): void;
  readonly size: number;
}

/** Creates an LRU; `weigh` gives an entry's weight against `maxWeight` (default 1 per entry). */
export function createLru<K, V>(opts: { maxEntries: number; maxWeight?: number; weigh?: (v: V) => number }): Lru<K, V> {
  const map = new Map<K, V>();
  const weigh = opts.weigh ?? (() => 0);
  let weight = 0;
  return {
    get(key) {
      const v = map.get(key);
      if (v === undefined) return undefined;
      // Map keeps insertion order: re-inserting moves the entry to the young end.
      map.delete(key);
      map.set(key, v);
      return v;
    },
    set(key, value) {
      const old = map.get(key);
      if (old !== undefined) {
        weight -= weigh(old);
        map.delete(key);
      }
      map.set(key, value);
      weight += weigh(value);
      while (map.size > opts.maxEntries || (opts.maxWeight !== undefined && weight > opts.maxWeight && map.size > 1)) {
        const oldest = map.keys().next().value as K;
        weight -= weigh(map.get(oldest)!);
        map.delete(oldest);
      }
    },
    delete(key) {
      const old = map.get(key);
      if (old !== undefined) weight -= weigh(old);
      map.delete(key);
    },
    get size() {
      return map.size;
    },
  };
}
