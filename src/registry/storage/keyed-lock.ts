/** Runs jobs one at a time per key (an upload session's chunks, a derived document's recipe record). */

/** Runs `work` after every earlier job of `key` settled; its result or failure is the caller's. */
export type KeyedLock = <T>(key: string, work: () => Promise<T>) => Promise<T>;

/** Creates a lock whose per-key queues are forgotten once they run empty. */
export function createKeyedLock(): KeyedLock {
  const tails = new Map<string, Promise<unknown>>();
  return (key, work) => {
    const previous = tails.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    const tail = next.catch(() => undefined);
    tails.set(key, tail);
    void tail.then(() => {
      if (tails.get(key) === tail) tails.delete(key);
    });
    return next;
  };
}
