/** SHA-256 hashers: native (Bun.CryptoHasher, SHA-NI) for speed, hash-wasm where a saved state is needed. */
import type { IHasher } from "hash-wasm";
import type { Digest } from "../oci/digest.ts";

/** Which implementation computes the hash; "native" is ~7x faster (see bench/hash.ts). */
export type HashEngine = "native" | "wasm";

/** An incremental SHA-256. `digest()` finalises it and returns `sha256:<hex>`. */
export interface Sha256 {
  update(chunk: Uint8Array): void;
  digest(): Digest;
}

/** A SHA-256 whose running state can be saved and restored, e.g. to resume an upload after a restart. */
export interface ResumableSha256 extends Sha256 {
  save(): Uint8Array;
}

/** The engine used when none is asked for: the faster one per bench/hash.ts. */
export const DEFAULT_HASH_ENGINE: HashEngine = "native";

/** Creates an incremental SHA-256 on the chosen engine (async because the wasm engine loads a module). */
export async function createSha256(engine: HashEngine = DEFAULT_HASH_ENGINE): Promise<Sha256> {
  if (engine === "native") return createNativeSha256();
  return wrapWasm(await createWasmSha256());
}

/** A native incremental SHA-256, synchronous to create. */
export function createNativeSha256(): Sha256 {
  const hasher = new Bun.CryptoHasher("sha256");
  return {
    update: (chunk) => void hasher.update(chunk),
    digest: () => `sha256:${hasher.digest("hex")}`,
  };
}

/** SHA-256 of a small in-memory document (manifests, configs), native and synchronous. */
export function sha256Bytes(bytes: Uint8Array | string): Digest {
  return `sha256:${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}`;
}

/** Creates a resumable SHA-256 (hash-wasm), optionally continuing from a state returned by `save()`. */
export async function createResumableSha256(state?: Uint8Array): Promise<ResumableSha256> {
  const hasher = await createWasmSha256();
  hasher.init();
  if (state !== undefined) hasher.load(state);
  return { ...wrapWasm(hasher), save: () => hasher.save() };
}

/** Loads hash-wasm only when asked for: its module is large, and importing it eagerly slowed every worker's start. */
async function createWasmSha256(): Promise<IHasher> {
  const { createSHA256 } = await import("hash-wasm");
  return createSHA256();
}

function wrapWasm(hasher: IHasher): Sha256 {
  return {
    update: (chunk) => void hasher.update(chunk),
    digest: () => `sha256:${hasher.digest("hex")}`,
  };
}
