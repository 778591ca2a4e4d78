import { describe, expect, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { SocketError, type TcpSocket, connectTcp } from "../../src/util/tcp-socket.ts";
import { seededBytes } from "../support/temp.ts";

/** Per-connection state of a test server: what it received, and its unsent output. */
interface Conn {
  received: Uint8Array[];
  receivedBytes: number;
  out: Uint8Array[];
  flushed: (() => void)[];
}

/** A Bun.listen server on 127.0.0.1; `data` is told how many bytes the connection has received so far. */
function listen(handlers: { open?: (s: Socket<Conn>) => void; data?: (s: Socket<Conn>, received: number) => void }): TCPSocketListener<Conn> {
  return Bun.listen<Conn>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        s.data = { received: [], receivedBytes: 0, out: [], flushed: [] };
        handlers.open?.(s);
      },
      data(s, chunk) {
        s.data.received.push(new Uint8Array(chunk));
        s.data.receivedBytes += chunk.length;
        handlers.data?.(s, s.data.receivedBytes);
      },
      drain: flush,
    },
  });
}

function flush(s: Socket<Conn>): void {
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

/** Writes all of `bytes` from the server side, waiting for the kernel to take them. */
function writeAll(s: Socket<Conn>, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    s.data.out.push(bytes);
    s.data.flushed.push(resolve);
    flush(s);
  });
}

function concat(pieces: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Reads `socket` to its end through a small buffer; counts the reads and the waits for data. */
async function receiveAll(socket: TcpSocket, bufferSize = 64 << 10): Promise<{ bytes: Uint8Array; reads: number; waits: number }> {
  const buffer = new Uint8Array(bufferSize);
  const pieces: Uint8Array[] = [];
  let reads = 0;
  let waits = 0;
  for (;;) {
    const n = socket.tryReceive(buffer);
    if (n === null) {
      waits++;
      await socket.readable();
      continue;
    }
    if (n === 0) break;
    reads++;
    pieces.push(buffer.slice(0, n));
  }
  return { bytes: concat(pieces), reads, waits };
}

/** A port nothing listens on: one the OS just gave a listener that is closed again. */
function closedPort(): number {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

describe("connectTcp", () => {
  test("8 MB sent, 3 MB answered: send hands over every byte, and the answer arrives byte-exact over many reads and waits", async () => {
    // More than the kernel takes at once (about 4 MB here): send meets EAGAIN and waits for the peer to read.
    const request = seededBytes(8 << 20, 11);
    const answer = seededBytes(3 << 20, 12);
    let serverGot: Uint8Array | undefined;
    const server = listen({
      data(s, received) {
        if (received < request.length) return;
        serverGot = concat(s.data.received);
        void writeAll(s, answer).then(() => s.end());
      },
    });
    const socket = (await connectTcp("127.0.0.1", server.port, 5_000))!;
    try {
      expect(socket).toBeDefined();
      await socket.send(request);
      const got = await receiveAll(socket);
      expect(serverGot!.length).toBe(request.length);
      expect(serverGot!).toEqual(request);
      expect(got.bytes.length).toBe(answer.length);
      expect(got.bytes).toEqual(answer);
      // The server (on this thread) cannot answer before the event loop turns: the first read waits.
      expect(got.waits).toBeGreaterThanOrEqual(1);
      expect(got.reads).toBeGreaterThanOrEqual(answer.length / (64 << 10));
    } finally {
      socket.close();
      server.stop(true);
    }
  });

  test("a closed port is refused with ECONNREFUSED", async () => {
    const error = await connectTcp("127.0.0.1", closedPort(), 2_000).catch((e) => e);
    expect(error).toBeInstanceOf(SocketError);
    expect(error.code).toBe("ECONNREFUSED");
    expect(error.message).toMatch(/connection refused/);
  });

  test("a peer that accepts but never sends: readable() rejects with ETIMEDOUT after the time limit", async () => {
    const server = listen({});
    const socket = (await connectTcp("127.0.0.1", server.port, 200))!;
    try {
      expect(socket.tryReceive(new Uint8Array(16))).toBeNull();
      const started = performance.now();
      const error = await socket.readable().catch((e) => e);
      const waited = performance.now() - started;
      expect(error).toBeInstanceOf(SocketError);
      expect(error.code).toBe("ETIMEDOUT");
      expect(waited).toBeGreaterThanOrEqual(195);
      expect(waited).toBeLessThan(2_000);
      expect(error.message).toMatch(/time limit/);
    } finally {
      socket.close();
      server.stop(true);
    }
  });

  test("the peer closing ends the stream: tryReceive answers 0 after the last bytes", async () => {
    const server = listen({
      open(s) {
        void writeAll(s, new TextEncoder().encode("bye")).then(() => s.end());
      },
    });
    const socket = (await connectTcp("127.0.0.1", server.port, 2_000))!;
    try {
      const got = await receiveAll(socket);
      expect(new TextDecoder().decode(got.bytes)).toBe("bye");
      // Still 0 when asked again: the end is not an error.
      expect(socket.tryReceive(new Uint8Array(16))).toBe(0);
    } finally {
      socket.close();
      server.stop(true);
    }
  });

  test("four sockets waiting at once are all served, each with its own data", async () => {
    const count = 4;
    const sockets: Socket<Conn>[] = [];
    // The server answers only once all four asked, so all four wait in the poll loop together.
    const server = listen({
      data(s, received) {
        if (received !== 1) return;
        sockets.push(s);
        if (sockets.length < count) return;
        for (const peer of sockets) {
          const id = peer.data.received[0]![0]!;
          void writeAll(peer, seededBytes(700_000 + id * 1000, 100 + id)).then(() => peer.end());
        }
      },
    });
    const clients: TcpSocket[] = [];
    try {
      for (let id = 0; id < count; id++) clients.push((await connectTcp("127.0.0.1", server.port, 5_000))!);
      const results = await Promise.all(
        clients.map(async (socket, id) => {
          await socket.send(Uint8Array.of(id));
          return receiveAll(socket, 16 << 10);
        }),
      );
      results.forEach((got, id) => {
        const expected = seededBytes(700_000 + id * 1000, 100 + id);
        expect(got.bytes.length).toBe(expected.length);
        expect(got.bytes).toEqual(expected);
        expect(got.waits).toBeGreaterThanOrEqual(1);
      });
    } finally {
      for (const socket of clients) socket.close();
      server.stop(true);
    }
  });

  test("an address that is not IPv4 is refused before any socket is made", async () => {
    const error = await connectTcp("::1", 80, 1_000).catch((e) => e);
    expect(error).toBeInstanceOf(SocketError);
    expect(error.code).toBe("EINVAL");
    await expect(connectTcp("127.0.0.256", 80, 1_000)).rejects.toThrow(/not an IPv4 address/);
  });
});
