/** What blob transfers report, so one reporter can draw progress for pull and push alike. */
import type { Digest } from "../oci/digest.ts";

/** How a blob ended up where it is needed. */
export type TransferOutcome = "downloaded" | "cached" | "uploaded" | "exists" | "mounted";

/** Receives transfer events; every method is optional to implement (see `silentObserver`). */
export interface TransferObserver {
  /**
   * True when bytes are shown as they arrive (progress bars on a terminal): transfers then report
   * them while they run; otherwise they may report a blob's bytes in one go when it is done.
   */
  readonly live?: boolean;
  /** A transfer starts: `total` when known, `already` bytes kept from an earlier, interrupted attempt. */
  start(digest: Digest, total: number | undefined, already: number): void;
  /** `bytes` more bytes went over the wire. */
  advance(digest: Digest, bytes: number): void;
  done(digest: Digest, outcome: TransferOutcome, size: number): void;
}

/** An observer that ignores everything. */
export const silentObserver: TransferObserver = { start() {}, advance() {}, done() {} };
