/** Messages between the pool (src/hash/pool.ts) and its worker (wasm/hash-worker.ts). */
import type { Digest } from "../oci/digest.ts";
import type { HashEngine } from "./sha256.ts";
import type { WriteLayerJob, WriteLayerResult } from "./layer-job.ts";

/** A job sent to a worker; `id` pairs it with its reply. */
export type WorkerRequest =
  | { id: number; kind: "writeLayer"; engine: HashEngine; job: WriteLayerJob }
  | { id: number; kind: "hashFile"; engine: HashEngine; path: string }
  | SessionRequest;

/** Requests to the running hashes a worker keeps for src/hash/session-thread.ts (see session-hashes.ts). */
export type SessionRequest =
  | { id: number; kind: "sessionUpdate"; key: string; path: string; from: number; to: number }
  | { id: number; kind: "sessionDigest"; key: string; path: string; size: number }
  | { id: number; kind: "sessionDrop"; key: string };

/** A worker's first message says it has loaded; then each reply the job's result, or its error flattened to name and message (Errors do not survive postMessage intact). */
export type WorkerResponse =
  | { ready: true }
  | { id: number; ok: true; result: WriteLayerResult | { digest: Digest; size: number } | string | null }
  | { id: number; ok: false; error: { name: string; message: string } };
