import { describe, expect, test } from "bun:test";
import { SocketError, type TcpSocket, connectTcp } from "../../src/util/tcp-socket.ts";
import { type RawConn, concat, rawServer } from "../support/raw-tcp.ts";
import { seededBytes } from "../support/temp.ts";

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
  const server = rawServer();
  const port = server.port;
  server.stop();
  return port;
}

describe("connectTcp", () => {
  test("8 MB sent, 3 MB answered: send hands over every byte, and the answer arrives byte-exact over many reads and waits", async () => {
    // More than the kernel takes at once (about 4 MB here): send meets EAGAIN and waits for the peer to read.
    const request = seededBytes(8 << 20, 11);
    const answer = seededBytes(3 << 20, 12);
    let serverGot: Uint8Array | undefined;
    const server = rawServer({
      data(conn) {
        if (conn.receivedBytes < request.length) return;
        serverGot = concat(conn.received);
        void conn.write(answer).then(() => conn.end());
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
      server.stop();
    }
  });

  test("a closed port is refused with ECONNREFUSED", async () => {
    const error = await connectTcp("127.0.0.1", closedPort(), 2_000).catch((e) => e);
    expect(error).toBeInstanceOf(SocketError);
    expect(error.code).toBe("ECONNREFUSED");
    expect(error.message).toMatch(/connection refused/);
  });

  test("a peer that accepts but never sends: readable() rejects with ETIMEDOUT after the time limit", async () => {
    const server = rawServer();
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
      server.stop();
    }
  });

  test("the peer closing ends the stream: tryReceive answers 0 after the last bytes", async () => {
    const server = rawServer({
      open(conn) {
        void conn.write("bye").then(() => conn.end());
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
      server.stop();
    }
  });

  test("four sockets waiting at once are all served, each with its own data", async () => {
    const count = 4;
    const asked: RawConn[] = [];
    // The server answers only once all four asked, so all four wait in the poll loop together.
    const server = rawServer({
      data(conn) {
        if (conn.receivedBytes !== 1) return;
        asked.push(conn);
        if (asked.length < count) return;
        for (const peer of asked) {
          const id = peer.received[0]![0]!;
          void peer.write(seededBytes(700_000 + id * 1000, 100 + id)).then(() => peer.end());
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
      server.stop();
    }
  });

  test("an address that is not IPv4 is refused before any socket is made", async () => {
    const error = await connectTcp("::1", 80, 1_000).catch((e) => e);
    expect(error).toBeInstanceOf(SocketError);
    expect(error.code).toBe("EINVAL");
    await expect(connectTcp("127.0.0.256", 80, 1_000)).rejects.toThrow(/not an IPv4 address/);
  });
});
