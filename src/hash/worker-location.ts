/**
 * Where the hash worker's entry lives. From source it sits beside src/ in wasm/; inside a `bun build --compile`
 * binary it must be an extra entry point, which Bun embeds under the entry points' common root and resolves
 * from a root-relative path (a path relative to this module would point outside the embedded file system).
 */
export function workerLocation(): string | URL {
  const here = import.meta.url;
  if (here.includes("/$bunfs/") || here.includes("~BUN")) return "./wasm/hash-worker.ts";
  return new URL("../../wasm/hash-worker.ts", here);
}
