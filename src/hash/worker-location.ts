/**
 * Where a worker's entry lives. From source it sits beside src/ in wasm/; inside a `bun build --compile`
 * binary it must be an extra entry point, which Bun embeds under the entry points' common root and resolves
 * from a root-relative path (a path relative to this module would point outside the embedded file system).
 */
export function workerLocation(entry: WorkerEntry = "hash-worker"): string | URL {
  const here = import.meta.url;
  if (here.includes("/$bunfs/") || here.includes("~BUN")) return `./wasm/${entry}.ts`;
  return new URL(`../../wasm/${entry}.ts`, here);
}

/** The worker entries under wasm/: the hashing pool's, and the lean one that only reads socket bodies. */
export type WorkerEntry = "hash-worker" | "receive-worker";
