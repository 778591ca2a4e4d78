/**
 * HTTP/1.1 message bodies read from a socket of util/tcp-socket.ts: framing (Content-Length,
 * chunked, or until the peer closes) and decoding. Hashing a body into a file is the client's
 * (client/transport/receive-body.ts), so util imports nothing above it.
 */
import { SocketError, type TcpSocket } from "./tcp-socket.ts";
import { YIELD_EVERY_BYTES, yieldToEventLoop } from "./yield-to-event-loop.ts";

// One receive buffer per thread: every read is used before the next await.
const RECEIVE_SIZE = 256 << 10;
let buffer: Uint8Array | undefined;

/** This thread's receive buffer. */
export function receiveBuffer(): Uint8Array {
  return (buffer ??= new Uint8Array(RECEIVE_SIZE));
}

/** A connection whose head has been read, handed over to read its body elsewhere. */
export interface DetachedBody {
  fd: number;
  framing: Framing;
  /** Body bytes that came with the head. */
  early: Uint8Array;
}

/** How the body's end is known. */
export type Framing = { kind: "length"; remaining: number } | { kind: "chunked" } | { kind: "close" };

/** The framing a response head announces; SocketError for one that cannot be read. */
export function framingOf(headers: Headers): Framing {
  const encoding = headers.get("transfer-encoding");
  if (encoding !== null && encoding.toLowerCase() !== "identity") {
    if (encoding.toLowerCase() !== "chunked") throw new SocketError(`unsupported transfer encoding ${encoding}`, "EPROTO");
    return { kind: "chunked" };
  }
  const length = headers.get("content-length");
  if (length === null) return { kind: "close" };
  if (!/^\d+$/.test(length)) throw new SocketError(`invalid Content-Length ${JSON.stringify(length)}`, "EPROTO");
  return { kind: "length", remaining: Number(length) };
}

/**
 * Reads a body framed as `framing` from `socket` (after `early`, the body bytes that came with
 * the head), passing it to `sink` piece by piece; each piece is valid only during the call.
 */
export async function readBody(socket: TcpSocket, framing: Framing, early: Uint8Array, sink: (piece: Uint8Array) => void): Promise<void> {
  framing = { ...framing }; // counted down below
  const buffer = receiveBuffer();
  const decode = framing.kind === "chunked" ? chunkedDecoder(sink) : undefined;
  let received = 0;
  // Returns true when the body is complete.
  const take = (piece: Uint8Array): boolean => {
    received += piece.length;
    if (decode) return decode(piece);
    if (framing.kind === "length") {
      const used = piece.subarray(0, Math.min(piece.length, framing.remaining));
      if (used.length > 0) sink(used);
      framing.remaining -= used.length;
      return framing.remaining === 0;
    }
    if (piece.length > 0) sink(piece);
    return false;
  };
  if (take(early) || (framing.kind === "length" && framing.remaining === 0)) return;
  let sinceYield = 0;
  for (;;) {
    const n = socket.tryReceive(buffer);
    if (n === null) {
      await socket.readable();
      continue;
    }
    if (n === 0) {
      if (framing.kind === "close") return;
      throw new SocketError(`the connection closed after ${received} bytes of the body, before its end`, "ECONNRESET");
    }
    if (take(buffer.subarray(0, n))) return;
    sinceYield += n;
    // Data that keeps arriving faster than it is read would never let the event loop run.
    if (sinceYield >= YIELD_EVERY_BYTES) {
      sinceYield = 0;
      await yieldToEventLoop();
    }
  }
}

/**
 * A decoder of the chunked transfer coding: fed raw pieces, it passes the data on to `sink` and
 * answers true once the last chunk (size 0) and its trailer section have been read.
 */
export function chunkedDecoder(sink: (piece: Uint8Array) => void): (piece: Uint8Array) => boolean {
  let state: "size" | "data" | "data-end" | "trailer" | "done" = "size";
  let line = ""; // the size line or trailer line being read
  let left = 0; // data bytes left in the current chunk
  return (piece) => {
    let i = 0;
    while (i < piece.length && state !== "done") {
      if (state === "data") {
        const n = Math.min(left, piece.length - i);
        sink(piece.subarray(i, i + n));
        i += n;
        left -= n;
        if (left === 0) state = "data-end";
        continue;
      }
      const byte = piece[i++]!;
      if (byte !== 10) {
        line += String.fromCharCode(byte);
        if (line.length > 4096) throw new SocketError("a chunk size or trailer line is over 4096 bytes", "EPROTO");
        continue;
      }
      const text = line.endsWith("\r") ? line.slice(0, -1) : line;
      line = "";
      if (state === "data-end") {
        if (text !== "") throw new SocketError("chunk data is not followed by CRLF", "EPROTO");
        state = "size";
      } else if (state === "size") {
        const size = /^([0-9a-fA-F]{1,12})[ \t]*(?:;.*)?$/.exec(text.trim());
        if (!size) throw new SocketError(`invalid chunk size line ${JSON.stringify(text.slice(0, 40))}`, "EPROTO");
        left = parseInt(size[1]!, 16);
        state = left === 0 ? "trailer" : "data";
      } else if (text === "") {
        state = "done"; // the blank line after the (usually empty) trailer section
      }
    }
    return state === "done";
  };
}
