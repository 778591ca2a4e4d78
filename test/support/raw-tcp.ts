/** Raw TCP servers for tests that must control every byte on the wire (Bun.listen, not Bun.serve). */
import type { Socket } from "bun";

/** The pieces joined into one plain Uint8Array (not a Buffer, so it compares equal to one). */
export function concat(pieces: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(pieces));
}

/** One connection to a raw server: what it received, and the means to answer with exact bytes. */
export interface RawConn {
  /** Copies of the pieces received, in order. */
  received: Uint8Array[];
  /** How many bytes were received in all. */
  receivedBytes: number;
  /** The request head through its blank line (latin1), once it arrived; "" before, or when the server has no `request` handler. */
  head: string;
  /** Whether the connection has closed. */
  closed: boolean;
  /** Writes all of `bytes` (a string as UTF-8), resolving once the kernel took them; writes go out in call order. */
  write(bytes: Uint8Array | string): Promise<void>;
  /** Closes the connection (write first what must go out before). */
  end(): void;
}

/** What a raw server does; each handler is optional. */
export interface RawHandlers {
  /** A connection opened. */
  open?(conn: RawConn): void;
  /** Bytes arrived (they are in conn.received). */
  data?(conn: RawConn): void;
  /** The request head arrived whole (through its blank line); called once a connection, with the head (also in conn.head). */
  request?(conn: RawConn, head: string): void | Promise<void>;
}

export interface RawServer {
  port: number;
  /** `127.0.0.1:PORT` */
  host: string;
  /** Every connection made, in order. */
  conns: RawConn[];
  stop(): void;
}

/** Per-socket state: the connection the handlers see, and its unsent output. */
interface State {
  conn: RawConn;
  out: Uint8Array[];
  flushed: (() => void)[];
}

/** Writes what the kernel takes of the queued output; once it is all gone, resolves the waiting writes. Runs again on drain. */
function flush(s: Socket<State>): void {
  const { out } = s.data;
  while (out.length > 0) {
    const n = s.write(out[0]!);
    if (n < out[0]!.length) {
      out[0] = out[0]!.subarray(Math.max(n, 0));
      return;
    }
    out.shift();
  }
  for (const done of s.data.flushed.splice(0)) done();
}

const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/** A Bun.listen server on 127.0.0.1 (a free port) that calls `handlers` for each connection. */
export function rawServer(handlers: RawHandlers = {}): RawServer {
  const conns: RawConn[] = [];
  const server = Bun.listen<State>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        const conn: RawConn = {
          received: [],
          receivedBytes: 0,
          head: "",
          closed: false,
          write: (bytes) =>
            new Promise((resolve) => {
              s.data.out.push(typeof bytes === "string" ? encoder.encode(bytes) : bytes);
              s.data.flushed.push(resolve);
              flush(s);
            }),
          end: () => void s.end(),
        };
        s.data = { conn, out: [], flushed: [] };
        conns.push(conn);
        handlers.open?.(conn);
      },
      data(s, chunk) {
        const { conn } = s.data;
        conn.received.push(new Uint8Array(chunk));
        conn.receivedBytes += chunk.length;
        handlers.data?.(conn);
        if (!handlers.request || conn.head) return;
        const text = latin1.decode(concat(conn.received));
        const end = text.indexOf("\r\n\r\n");
        if (end < 0) return;
        conn.head = text.slice(0, end + 4);
        void handlers.request(conn, conn.head);
      },
      drain: flush,
      close(s) {
        s.data.conn.closed = true;
      },
    },
  });
  return { port: server.port, host: `127.0.0.1:${server.port}`, conns, stop: () => server.stop(true) };
}
