/**
 * A registry's response body, read off a socket of util/tcp-socket.ts, hashed and appended to a
 * file. A worker thread (wasm/receive-worker.ts) can run it on a connection another thread
 * opened: file descriptors are the process's. It loads little, so that worker starts fast.
 */
import { closeSync, openSync } from "node:fs";
import type { Digest } from "../../oci/digest.ts";
import { createNativeSha256 } from "../../hash/sha256.ts";
import { writeFully } from "../../util/copy-file-range.ts";
import { type DetachedBody, readBody } from "../../util/http1-body.ts";
import { adoptTcpSocket } from "../../util/tcp-socket.ts";

/** A body to append to a file: the connection (owned from now on), the file, and the most bytes it may have. */
export interface ReceiveBodyJob extends DetachedBody {
  path: string;
  room: number;
  timeoutMs: number;
}

/**
 * Appends the body of a detached connection to `path`, each piece hashed before it is written,
 * and closes the connection. Resolves to the SHA-256 of the bytes appended; rejects with a
 * SocketError when the connection drops (what arrived stays written) and with a
 * BodyTooLargeError past `room` bytes.
 */
export async function receiveBodyToFile(job: ReceiveBodyJob): Promise<{ digest: Digest; bytes: number }> {
  const socket = adoptTcpSocket(job.fd, job.timeoutMs);
  const hasher = createNativeSha256();
  let bytes = 0;
  let out: number | undefined;
  try {
    out = openSync(job.path, "a");
    const fd = out;
    await readBody(socket, job.framing, job.early, (piece) => {
      bytes += piece.length;
      if (bytes > job.room) throw new BodyTooLargeError("the registry sent more than the expected size");
      hasher.update(piece);
      writeFully(fd, piece);
    });
  } finally {
    if (out !== undefined) closeSync(out);
    socket.close();
  }
  return { digest: hasher.digest(), bytes };
}

/** A body longer than the room it was given. */
export class BodyTooLargeError extends Error {
  override name = "BodyTooLargeError";
}
