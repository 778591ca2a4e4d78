import { describe, expect, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { type SocketTarget, chunkedDecoder, socketGet, socketTarget } from "../../src/client/socket-http-get.ts";
import { SocketError } from "../../src/util/tcp-socket.ts";
import { seededBytes } from "../support/temp.ts";

const encoder = new TextEncoder();
const bytesOf = (text: string) => encoder.encode(text);

function concat(pieces: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A sink that keeps copies of its pieces (the receive buffer is reused). */
function collector(): { sink: (piece: Uint8Array) => void; pieces: Uint8Array[]; bytes(): Uint8Array } {
  const pieces: Uint8Array[] = [];
  return { sink: (piece) => void pieces.push(piece.slice()), pieces, bytes: () => concat(pieces) };
}

/** The chunked encoding of `data` in chunks of the given sizes (repeated), with lowercase or uppercase hex. */
function chunked(data: Uint8Array, sizes: number[], opts: { upper?: boolean; trailer?: string } = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const size = Math.min(sizes[i % sizes.length]!, data.length - at);
    const hex = size.toString(16);
    parts.push(bytesOf(`${opts.upper ? hex.toUpperCase() : hex}\r\n`), data.subarray(at, at + size), bytesOf("\r\n"));
    at += size;
  }
  parts.push(bytesOf(`0\r\n${opts.trailer ?? ""}\r\n`));
  return concat(parts);
}

/** Feeds `encoded` to a fresh decoder in pieces ending at `cuts`; the data and what each call answered. */
function decodeIn(encoded: Uint8Array, cuts: number[]): { data: Uint8Array; answers: boolean[] } {
  const out = collector();
  const decode = chunkedDecoder(out.sink);
  const answers: boolean[] = [];
  let from = 0;
  for (const to of [...cuts, encoded.length]) {
    answers.push(decode(encoded.subarray(from, to)));
    from = to;
  }
  return { data: out.bytes(), answers };
}

/** xorshift32, for reproducible random splits. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** One connection to a raw server: the request it sent, and the means to answer it with exact bytes. */
interface Conn {
  request: string;
  received: Uint8Array[];
  out: Uint8Array[];
  flushed: (() => void)[];
  answered: boolean;
  closed: boolean;
}

interface RawServer {
  target: SocketTarget;
  port: number;
  /** Every connection made, in order. */
  conns: Conn[];
  stop(): void;
}

/** The writing side of a raw answer. */
interface Answer {
  /** Writes all of `bytes`, resolving once the kernel took them. */
  write(bytes: Uint8Array | string): Promise<void>;
  /** Closes the connection (after what was written). */
  end(): void;
}

/**
 * A Bun.listen server on 127.0.0.1 that reads a request head and calls `answer` with it: the
 * test writes the HTTP answer byte by byte as it wants it, framing mistakes included.
 */
function rawServer(answer: (a: Answer, request: string) => void | Promise<void>): RawServer {
  const conns: Conn[] = [];
  const flush = (s: Socket<Conn>) => {
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
  };
  const server: TCPSocketListener<Conn> = Bun.listen<Conn>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        s.data = { request: "", received: [], out: [], flushed: [], answered: false, closed: false };
        conns.push(s.data);
      },
      data(s, chunk) {
        s.data.received.push(new Uint8Array(chunk));
        const text = new TextDecoder("latin1").decode(concat(s.data.received));
        const end = text.indexOf("\r\n\r\n");
        if (end < 0 || s.data.answered) return;
        s.data.answered = true;
        s.data.request = text.slice(0, end + 4);
        const a: Answer = {
          write: (bytes) =>
            new Promise((resolve) => {
              s.data.out.push(typeof bytes === "string" ? bytesOf(bytes) : bytes);
              s.data.flushed.push(resolve);
              flush(s);
            }),
          end: () => void s.end(),
        };
        void answer(a, s.data.request);
      },
      drain: flush,
      close(s) {
        s.data.closed = true;
      },
    },
  });
  return {
    target: { ip: "127.0.0.1", port: server.port, host: `127.0.0.1:${server.port}` },
    port: server.port,
    conns,
    stop: () => server.stop(true),
  };
}

/** socketGet that must connect (this is Linux with glibc). */
async function get(target: SocketTarget, headers: Record<string, string> = {}, timeoutMs = 5_000, path = "/v2/r/blobs/sha256:00") {
  const res = await socketGet(target, path, headers, timeoutMs);
  expect(res).toBeDefined();
  return res!;
}

describe("socketTarget", () => {
  test("plain HTTP to an IPv4 address or localhost goes over the socket; anything else does not", () => {
    expect(socketTarget("http://127.0.0.1:5000")).toEqual({ ip: "127.0.0.1", port: 5000, host: "127.0.0.1:5000" });
    expect(socketTarget("http://localhost:5000")).toEqual({ ip: "127.0.0.1", port: 5000, host: "localhost:5000" });
    expect(socketTarget("http://10.1.2.3")).toEqual({ ip: "10.1.2.3", port: 80, host: "10.1.2.3" });
    expect(socketTarget("https://127.0.0.1:5000")).toBeUndefined();
    expect(socketTarget("https://localhost:5000")).toBeUndefined();
    expect(socketTarget("http://example.com")).toBeUndefined();
    expect(socketTarget("http://example.com:5000")).toBeUndefined();
    expect(socketTarget("http://[::1]:5000")).toBeUndefined();
  });
});

describe("chunkedDecoder", () => {
  const data = seededBytes(300, 5);
  // Sizes from 1 byte to more than 255 (several hex digits), lowercase hex (e.g. "a1").
  const encoded = chunked(data, [1, 7, 16, 161, 2, 300]);

  test("1-byte pieces: the exact data, and true only for the very last byte", () => {
    const { data: got, answers } = decodeIn(
      encoded,
      Array.from({ length: encoded.length - 1 }, (_, i) => i + 1),
    );
    expect(got).toEqual(data);
    expect(answers.length).toBe(encoded.length);
    expect(answers.indexOf(true)).toBe(encoded.length - 1);
  });

  test("split in two at every byte boundary: the exact data, true only once the end is fed", () => {
    for (let cut = 0; cut <= encoded.length; cut++) {
      const { data: got, answers } = decodeIn(encoded, [cut]);
      expect(got).toEqual(data);
      expect(answers).toEqual([cut === encoded.length, true]);
    }
  });

  test("random splits: the exact data, true only for the last piece", () => {
    const next = random(42);
    for (let round = 0; round < 200; round++) {
      const cuts: number[] = [];
      for (let at = Math.floor(next() * 20); at < encoded.length; at += 1 + Math.floor(next() * 40)) cuts.push(at);
      const { data: got, answers } = decodeIn(encoded, cuts);
      expect(got).toEqual(data);
      expect(answers.at(-1)).toBe(true);
      // Only empty pieces fed after the end may answer true as well.
      const firstTrue = answers.indexOf(true);
      const endsAt = [...cuts, encoded.length][firstTrue];
      expect(endsAt).toBe(encoded.length);
    }
  });

  test("chunk extensions are ignored, uppercase hex is read, trailers are skipped up to the blank line", () => {
    const hello = decodeIn(bytesOf("5;foo=bar\r\nhello\r\n6;a=1;b=\"x y\"\r\n world\r\n0;last\r\n\r\n"), []);
    expect(new TextDecoder().decode(hello.data)).toBe("hello world");
    expect(hello.answers).toEqual([true]);

    const big = seededBytes(700, 9);
    const upper = chunked(big, [0x1af, 0xff, 0xc], { upper: true });
    expect(new TextDecoder("latin1").decode(upper.subarray(0, 5))).toBe("1AF\r\n");
    expect(decodeIn(upper, []).data).toEqual(big);

    const withTrailer = chunked(bytesOf("abc"), [3], { trailer: "X-Checksum: 1234\r\nX-Other: 5\r\n" });
    // Everything but the final CRLF: the trailer section has not ended yet.
    const { data: got, answers } = decodeIn(withTrailer, [withTrailer.length - 2, withTrailer.length - 1]);
    expect(new TextDecoder().decode(got)).toBe("abc");
    expect(answers).toEqual([false, false, true]);
  });

  // RFC 9112 allows whitespace before a chunk extension's ";" (BWS).
  test("whitespace before a chunk extension is allowed", () => {
    expect(new TextDecoder().decode(decodeIn(bytesOf("5 ;foo=bar\r\nhello\r\n6\t;x\r\n world\r\n0\r\n\r\n"), []).data)).toBe("hello world");
  });

  test("bytes after the end are not passed on", () => {
    const out = collector();
    const decode = chunkedDecoder(out.sink);
    expect(decode(concat([chunked(bytesOf("abc"), [2]), bytesOf("3\r\nxyz\r\n0\r\n\r\n")]))).toBe(true);
    expect(new TextDecoder().decode(out.bytes())).toBe("abc");
  });

  test("a malformed size line, or data not followed by CRLF, throws SocketError EPROTO", () => {
    for (const bad of ["zz\r\n", "\r\n", "-1\r\n", "0x5\r\nhello\r\n", "5 5\r\n", "1234567890abc\r\n", "5\r\nhelloX\r\n0\r\n\r\n", `${"1".repeat(5000)}`]) {
      let error: unknown;
      try {
        decodeIn(bytesOf(bad), []);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(SocketError);
      expect((error as SocketError).code).toBe("EPROTO");
    }
  });
});

describe("socketGet", () => {
  test("sends the request line, Host, Range and Authorization it is given, and nothing else", async () => {
    const server = rawServer(async (a) => {
      await a.write("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 5-9/10\r\nContent-Length: 5\r\n\r\n56789");
    });
    try {
      const target = socketTarget(`http://localhost:${server.port}`)!;
      const res = await get(target, { Range: "bytes=5-", Authorization: "Basic dTpw" }, 5_000, "/v2/a/b/blobs/sha256:abc");
      const out = collector();
      await res.readBody(out.sink);
      res.close();
      expect(res.status).toBe(206);
      expect(res.headers.get("content-range")).toBe("bytes 5-9/10");
      expect(new TextDecoder().decode(out.bytes())).toBe("56789");
      expect(server.conns.length).toBe(1);
      expect(server.conns[0]!.request).toBe(
        `GET /v2/a/b/blobs/sha256:abc HTTP/1.1\r\nHost: localhost:${server.port}\r\nConnection: close\r\nRange: bytes=5-\r\nAuthorization: Basic dTpw\r\n\r\n`,
      );
    } finally {
      server.stop();
    }
  });

  test("a Content-Length body of several MB arrives byte-exact, and ends by its length with the connection still open", async () => {
    const body = seededBytes(5 << 20, 21);
    const server = rawServer(async (a) => {
      await a.write(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`);
      await a.write(body);
      // The connection stays open: only the length can tell the body ended.
    });
    try {
      const res = await get(server.target);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-length")).toBe(String(body.length));
      const out = collector();
      await res.readBody(out.sink);
      res.close();
      const got = out.bytes();
      expect(got.length).toBe(body.length);
      expect(got).toEqual(body);
      expect(out.pieces.length).toBeGreaterThan(1);
    } finally {
      server.stop();
    }
  });

  test("a chunked body arrives byte-exact and ends at its last chunk, written in many small pieces", async () => {
    const body = seededBytes(1 << 20, 22);
    const encoded = chunked(body, [100_000, 1, 65_536, 4093], { trailer: "X-Trailer: yes\r\n" });
    const server = rawServer(async (a) => {
      await a.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
      // Pieces that cut size lines, data and CRLFs anywhere.
      const next = random(7);
      for (let at = 0; at < encoded.length; ) {
        const size = 1 + Math.floor(next() * 150_000);
        await a.write(encoded.subarray(at, at + size));
        at += size;
        if (next() < 0.2) await Bun.sleep(1);
      }
    });
    try {
      const res = await get(server.target);
      const out = collector();
      await res.readBody(out.sink);
      res.close();
      expect(out.bytes()).toEqual(body);
    } finally {
      server.stop();
    }
  });

  test("a body with no length ends when the server closes", async () => {
    const body = seededBytes(1_500_000, 23);
    const server = rawServer(async (a) => {
      await a.write("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n");
      await a.write(body.subarray(0, 1000));
      await Bun.sleep(5);
      await a.write(body.subarray(1000));
      a.end();
    });
    try {
      const res = await get(server.target);
      const out = collector();
      await res.readBody(out.sink);
      res.close();
      expect(out.bytes()).toEqual(body);
    } finally {
      server.stop();
    }
  });

  test("a body cut short fails with ECONNRESET after passing on exactly the bytes sent", async () => {
    const body = seededBytes(1_000_000, 24);
    const sent = 400_000;
    for (const framing of ["length", "chunked"] as const) {
      const server = rawServer(async (a) => {
        if (framing === "length") {
          await a.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
          await a.write(body.subarray(0, sent));
        } else {
          await a.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
          // One complete chunk of `sent` bytes, then a chunk that never finishes.
          await a.write(concat([bytesOf(`${sent.toString(16)}\r\n`), body.subarray(0, sent), bytesOf(`\r\n${(1000).toString(16)}\r\n`)]));
        }
        await Bun.sleep(20);
        a.end();
      });
      try {
        const res = await get(server.target);
        const out = collector();
        const error = await res.readBody(out.sink).catch((e) => e);
        res.close();
        expect(error).toBeInstanceOf(SocketError);
        expect(error.code).toBe("ECONNRESET");
        const got = out.bytes();
        expect(got.length).toBe(sent);
        expect(got).toEqual(body.subarray(0, sent));
      } finally {
        server.stop();
      }
    }
  });

  test("bytes beyond Content-Length are not passed on, whether they come with the head or after it", async () => {
    const body = bytesOf("0123456789");
    for (const split of [false, true]) {
      const server = rawServer(async (a) => {
        const head = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`;
        if (split) {
          await a.write(head);
          await Bun.sleep(10);
          await a.write(concat([body, bytesOf("GARBAGE AFTER THE BODY")]));
        } else {
          await a.write(concat([bytesOf(head), body, bytesOf("GARBAGE AFTER THE BODY")]));
        }
      });
      try {
        const res = await get(server.target);
        const out = collector();
        await res.readBody(out.sink);
        res.close();
        expect(new TextDecoder().decode(out.bytes())).toBe("0123456789");
      } finally {
        server.stop();
      }
    }
  });

  test("an empty body (Content-Length: 0) ends at once", async () => {
    const server = rawServer(async (a) => {
      await a.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    });
    try {
      const res = await get(server.target, {}, 200);
      const out = collector();
      await res.readBody(out.sink);
      res.close();
      expect(out.pieces.length).toBe(0);
    } finally {
      server.stop();
    }
  });

  test("a response head over 64 KiB fails with EPROTO", async () => {
    const filler = Array.from({ length: 800 }, (_, i) => `X-Filler-${i}: ${"f".repeat(90)}\r\n`).join("");
    expect(filler.length).toBeGreaterThan(64 << 10);
    const server = rawServer(async (a) => {
      // No blank line ever comes: the client must give up on its own, not wait.
      await a.write(`HTTP/1.1 200 OK\r\n${filler}`);
    });
    try {
      const error = await socketGet(server.target, "/", {}, 5_000).catch((e) => e);
      expect(error).toBeInstanceOf(SocketError);
      expect(error.code).toBe("EPROTO");
    } finally {
      server.stop();
    }
  });

  // The limit holds however the head arrives: here whole, in one read of the 256 KiB buffer.
  test("a complete response head over 64 KiB that arrives in one read fails with EPROTO too", async () => {
    const filler = Array.from({ length: 700 }, (_, i) => `X-Filler-${i}: ${"f".repeat(90)}\r\n`).join("");
    expect(filler.length).toBeGreaterThan(64 << 10);
    const server = rawServer(async (a) => {
      await a.write(`HTTP/1.1 200 OK\r\n${filler}Content-Length: 0\r\n\r\n`);
    });
    try {
      const error = await socketGet(server.target, "/", {}, 5_000).catch((e) => e);
      expect(error).toBeInstanceOf(SocketError);
      expect(error.code).toBe("EPROTO");
    } finally {
      server.stop();
    }
  });

  test("an answer that is not HTTP/1.x, or has a malformed header, fails with EPROTO", async () => {
    const answers = [
      "SSH-2.0-OpenSSH_9.6\r\n\r\n",
      "HTTP/2 200\r\n\r\n",
      "HTTP/1.1 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
      "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
    ];
    for (const text of answers) {
      const server = rawServer(async (a) => {
        await a.write(text);
      });
      try {
        const error = await socketGet(server.target, "/", {}, 5_000).catch((e) => e);
        expect(error).toBeInstanceOf(SocketError);
        expect(error.code).toBe("EPROTO");
      } finally {
        server.stop();
      }
    }
  });

  test("a framing it cannot read fails with EPROTO when the body is read", async () => {
    for (const head of ["Transfer-Encoding: gzip", "Content-Length: 12abc", "Content-Length: -1"]) {
      const server = rawServer(async (a) => {
        await a.write(`HTTP/1.1 200 OK\r\n${head}\r\n\r\nbody`);
      });
      try {
        const res = await get(server.target);
        const error = await res.readBody(() => {}).catch((e) => e);
        res.close();
        expect(error).toBeInstanceOf(SocketError);
        expect(error.code).toBe("EPROTO");
      } finally {
        server.stop();
      }
    }
  });

  test("the connection closing before the head ends fails with ECONNRESET", async () => {
    const server = rawServer(async (a) => {
      await a.write("HTTP/1.1 200 OK\r\nContent-Le");
      a.end();
    });
    try {
      const error = await socketGet(server.target, "/", {}, 5_000).catch((e) => e);
      expect(error).toBeInstanceOf(SocketError);
      expect(error.code).toBe("ECONNRESET");
    } finally {
      server.stop();
    }
  });

  test("a body that stalls fails with ETIMEDOUT after the time limit", async () => {
    const server = rawServer(async (a) => {
      await a.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst");
    });
    try {
      const res = await get(server.target, {}, 200);
      const out = collector();
      const error = await res.readBody(out.sink).catch((e) => e);
      res.close();
      expect(error).toBeInstanceOf(SocketError);
      expect(error.code).toBe("ETIMEDOUT");
      expect(new TextDecoder().decode(out.bytes())).toBe("first");
    } finally {
      server.stop();
    }
  });

  test("a header name or value with CR or LF is refused, and no request goes out", async () => {
    const server = rawServer(async (a) => {
      await a.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    });
    try {
      const evil: Record<string, string>[] = [{ Authorization: "Basic x\r\nX-Injected: yes" }, { Range: "bytes=0-\n" }, { "X-A\rB": "v" }];
      for (const headers of evil) {
        const error = await socketGet(server.target, "/v2/", headers, 5_000).catch((e) => e);
        expect(error).toBeInstanceOf(SocketError);
        expect(error.code).toBe("EINVAL");
      }
      // Let the server see whatever reached it: the connections were made, then closed unused.
      for (let i = 0; i < 100 && server.conns.filter((c) => c.closed).length < evil.length; i++) await Bun.sleep(5);
      expect(server.conns.length).toBe(evil.length);
      for (const conn of server.conns) {
        expect(conn.closed).toBe(true);
        expect(conn.received.length).toBe(0);
      }
    } finally {
      server.stop();
    }
  });

  test("a refused connection fails with ECONNREFUSED", async () => {
    const server = rawServer(() => {});
    const target = server.target;
    server.stop();
    const error = await socketGet(target, "/", {}, 2_000).catch((e) => e);
    expect(error).toBeInstanceOf(SocketError);
    expect(error.code).toBe("ECONNREFUSED");
  });
});
