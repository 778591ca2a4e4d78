import { describe, expect, test } from "bun:test";
import { type SocketResponse, type SocketTarget, chunkedDecoder, socketGet, socketTarget } from "../../../src/client/transport/socket-http-get.ts";
import { SocketError } from "../../../src/util/tcp-socket.ts";
import { type RawConn, type RawServer, concat, rawServer } from "../../support/raw-tcp.ts";
import { seededBytes } from "../../support/temp.ts";

const encoder = new TextEncoder();
const bytesOf = (text: string) => encoder.encode(text);

/** A sink that keeps copies of its pieces (the receive buffer is reused). */
interface Collector {
  sink: (piece: Uint8Array) => void;
  pieces: Uint8Array[];
  bytes(): Uint8Array;
}

function collector(): Collector {
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

interface HttpServer extends RawServer {
  target: SocketTarget;
}

/** A raw server that reads each request head and calls `answer` with it: the test writes the HTTP answer byte by byte as it wants it, framing mistakes included. */
function httpServer(answer: (conn: RawConn, request: string) => void | Promise<void>): HttpServer {
  const server = rawServer({ request: answer });
  return { ...server, target: { ip: "127.0.0.1", port: server.port, host: server.host } };
}

/** Runs `fn` with a server answering with `answer`, and stops the server after. */
async function withServer(answer: (conn: RawConn, request: string) => void | Promise<void>, fn: (server: HttpServer) => Promise<void>): Promise<void> {
  const server = httpServer(answer);
  try {
    await fn(server);
  } finally {
    server.stop();
  }
}

interface GetOptions {
  headers?: Record<string, string>;
  timeoutMs?: number;
  path?: string;
}

/** socketGet that must connect (this is Linux with glibc). */
async function get(target: SocketTarget, { headers = {}, timeoutMs = 5_000, path = "/v2/r/blobs/sha256:00" }: GetOptions = {}): Promise<SocketResponse> {
  const res = await socketGet(target, path, headers, timeoutMs);
  expect(res).toBeDefined();
  return res!;
}

/** GETs from `target` and reads the whole body into a collector, then closes the answer; throws what reading throws. */
async function readAll(target: SocketTarget, opts?: GetOptions): Promise<{ res: SocketResponse; out: Collector }> {
  const res = await get(target, opts);
  const out = collector();
  await res.readBody(out.sink);
  res.close();
  return { res, out };
}

/** As readAll, for a body whose reading must fail: what it threw, and what it passed on before. */
async function readFailing(target: SocketTarget, opts?: GetOptions): Promise<{ error: any; out: Collector }> {
  const res = await get(target, opts);
  const out = collector();
  const error = await res.readBody(out.sink).catch((e) => e);
  res.close();
  return { error, out };
}

/** What a GET of "/" that must fail before any body threw. */
const headError = (server: HttpServer): Promise<any> => socketGet(server.target, "/", {}, 5_000).catch((e) => e);

function expectSocketError(error: unknown, code: string): void {
  expect(error).toBeInstanceOf(SocketError);
  expect((error as SocketError).code).toBe(code);
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
      expectSocketError(error, "EPROTO");
    }
  });
});

describe("socketGet", () => {
  test("sends the request line, Host, Range and Authorization it is given, and nothing else", async () => {
    const answer = "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 5-9/10\r\nContent-Length: 5\r\n\r\n56789";
    await withServer(
      (conn) => conn.write(answer),
      async (server) => {
        const target = socketTarget(`http://localhost:${server.port}`)!;
        const { res, out } = await readAll(target, { headers: { Range: "bytes=5-", Authorization: "Basic dTpw" }, path: "/v2/a/b/blobs/sha256:abc" });
        expect(res.status).toBe(206);
        expect(res.headers.get("content-range")).toBe("bytes 5-9/10");
        expect(new TextDecoder().decode(out.bytes())).toBe("56789");
        expect(server.conns.length).toBe(1);
        expect(server.conns[0]!.head).toBe(
          `GET /v2/a/b/blobs/sha256:abc HTTP/1.1\r\nHost: localhost:${server.port}\r\nConnection: close\r\nRange: bytes=5-\r\nAuthorization: Basic dTpw\r\n\r\n`,
        );
      },
    );
  });

  test("a Content-Length body of several MB arrives byte-exact, and ends by its length with the connection still open", async () => {
    const body = seededBytes(5 << 20, 21);
    const answer = async (conn: RawConn) => {
      await conn.write(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`);
      await conn.write(body);
      // The connection stays open: only the length can tell the body ended.
    };
    await withServer(answer, async (server) => {
      const { res, out } = await readAll(server.target);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-length")).toBe(String(body.length));
      const got = out.bytes();
      expect(got.length).toBe(body.length);
      expect(got).toEqual(body);
      expect(out.pieces.length).toBeGreaterThan(1);
    });
  });

  test("a chunked body arrives byte-exact and ends at its last chunk, written in many small pieces", async () => {
    const body = seededBytes(1 << 20, 22);
    const encoded = chunked(body, [100_000, 1, 65_536, 4093], { trailer: "X-Trailer: yes\r\n" });
    const answer = async (conn: RawConn) => {
      await conn.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
      // Pieces that cut size lines, data and CRLFs anywhere.
      const next = random(7);
      for (let at = 0; at < encoded.length; ) {
        const size = 1 + Math.floor(next() * 150_000);
        await conn.write(encoded.subarray(at, at + size));
        at += size;
        if (next() < 0.2) await Bun.sleep(1);
      }
    };
    await withServer(answer, async (server) => {
      const { out } = await readAll(server.target);
      expect(out.bytes()).toEqual(body);
    });
  });

  test("a body with no length ends when the server closes", async () => {
    const body = seededBytes(1_500_000, 23);
    const answer = async (conn: RawConn) => {
      await conn.write("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n");
      await conn.write(body.subarray(0, 1000));
      await Bun.sleep(5);
      await conn.write(body.subarray(1000));
      conn.end();
    };
    await withServer(answer, async (server) => {
      const { out } = await readAll(server.target);
      expect(out.bytes()).toEqual(body);
    });
  });

  test("a body cut short fails with ECONNRESET after passing on exactly the bytes sent", async () => {
    const body = seededBytes(1_000_000, 24);
    const sent = 400_000;
    for (const framing of ["length", "chunked"] as const) {
      const answer = async (conn: RawConn) => {
        if (framing === "length") {
          await conn.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
          await conn.write(body.subarray(0, sent));
        } else {
          await conn.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
          // One complete chunk of `sent` bytes, then a chunk that never finishes.
          await conn.write(concat([bytesOf(`${sent.toString(16)}\r\n`), body.subarray(0, sent), bytesOf(`\r\n${(1000).toString(16)}\r\n`)]));
        }
        await Bun.sleep(20);
        conn.end();
      };
      await withServer(answer, async (server) => {
        const { error, out } = await readFailing(server.target);
        expectSocketError(error, "ECONNRESET");
        const got = out.bytes();
        expect(got.length).toBe(sent);
        expect(got).toEqual(body.subarray(0, sent));
      });
    }
  });

  test("bytes beyond Content-Length are not passed on, whether they come with the head or after it", async () => {
    const body = bytesOf("0123456789");
    for (const split of [false, true]) {
      const answer = async (conn: RawConn) => {
        const head = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`;
        if (split) {
          await conn.write(head);
          await Bun.sleep(10);
          await conn.write(concat([body, bytesOf("GARBAGE AFTER THE BODY")]));
        } else {
          await conn.write(concat([bytesOf(head), body, bytesOf("GARBAGE AFTER THE BODY")]));
        }
      };
      await withServer(answer, async (server) => {
        const { out } = await readAll(server.target);
        expect(new TextDecoder().decode(out.bytes())).toBe("0123456789");
      });
    }
  });

  test("an empty body (Content-Length: 0) ends at once", async () => {
    await withServer(
      (conn) => conn.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
      async (server) => {
        const { out } = await readAll(server.target, { timeoutMs: 200 });
        expect(out.pieces.length).toBe(0);
      },
    );
  });

  test("a response head over 64 KiB fails with EPROTO", async () => {
    const filler = Array.from({ length: 800 }, (_, i) => `X-Filler-${i}: ${"f".repeat(90)}\r\n`).join("");
    expect(filler.length).toBeGreaterThan(64 << 10);
    // No blank line ever comes: the client must give up on its own, not wait.
    await withServer(
      (conn) => conn.write(`HTTP/1.1 200 OK\r\n${filler}`),
      async (server) => expectSocketError(await headError(server), "EPROTO"),
    );
  });

  // The limit holds however the head arrives: here whole, in one read of the 256 KiB buffer.
  test("a complete response head over 64 KiB that arrives in one read fails with EPROTO too", async () => {
    const filler = Array.from({ length: 700 }, (_, i) => `X-Filler-${i}: ${"f".repeat(90)}\r\n`).join("");
    expect(filler.length).toBeGreaterThan(64 << 10);
    await withServer(
      (conn) => conn.write(`HTTP/1.1 200 OK\r\n${filler}Content-Length: 0\r\n\r\n`),
      async (server) => expectSocketError(await headError(server), "EPROTO"),
    );
  });

  test("an answer that is not HTTP/1.x, or has a malformed header, fails with EPROTO", async () => {
    const answers = [
      "SSH-2.0-OpenSSH_9.6\r\n\r\n",
      "HTTP/2 200\r\n\r\n",
      "HTTP/1.1 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
      "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
      "HTTP/1.1 200 OK\r\nBad Name: a space in the name\r\n\r\n",
    ];
    for (const text of answers) {
      await withServer(
        (conn) => conn.write(text),
        async (server) => expectSocketError(await headError(server), "EPROTO"),
      );
    }
  });

  test("a framing it cannot read fails with EPROTO when the body is read", async () => {
    for (const head of ["Transfer-Encoding: gzip", "Content-Length: 12abc", "Content-Length: -1"]) {
      await withServer(
        (conn) => conn.write(`HTTP/1.1 200 OK\r\n${head}\r\n\r\nbody`),
        async (server) => expectSocketError((await readFailing(server.target)).error, "EPROTO"),
      );
    }
  });

  test("the connection closing before the head ends fails with ECONNRESET", async () => {
    const answer = async (conn: RawConn) => {
      await conn.write("HTTP/1.1 200 OK\r\nContent-Le");
      conn.end();
    };
    await withServer(answer, async (server) => expectSocketError(await headError(server), "ECONNRESET"));
  });

  test("a body that stalls fails with ETIMEDOUT after the time limit", async () => {
    await withServer(
      (conn) => conn.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst"),
      async (server) => {
        const { error, out } = await readFailing(server.target, { timeoutMs: 200 });
        expectSocketError(error, "ETIMEDOUT");
        expect(new TextDecoder().decode(out.bytes())).toBe("first");
      },
    );
  });

  test("a header name or value with CR or LF is refused, and no request goes out", async () => {
    await withServer(
      (conn) => conn.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
      async (server) => {
        const evil: Record<string, string>[] = [{ Authorization: "Basic x\r\nX-Injected: yes" }, { Range: "bytes=0-\n" }, { "X-A\rB": "v" }];
        for (const headers of evil) {
          expectSocketError(await socketGet(server.target, "/v2/", headers, 5_000).catch((e) => e), "EINVAL");
        }
        // Let the server see whatever reached it: the connections were made, then closed unused.
        for (let i = 0; i < 100 && server.conns.filter((c) => c.closed).length < evil.length; i++) await Bun.sleep(5);
        expect(server.conns.length).toBe(evil.length);
        for (const conn of server.conns) {
          expect(conn.closed).toBe(true);
          expect(conn.received.length).toBe(0);
        }
      },
    );
  });

  test("a refused connection fails with ECONNREFUSED", async () => {
    const server = httpServer(() => {});
    const target = server.target;
    server.stop();
    expectSocketError(await socketGet(target, "/", {}, 2_000).catch((e) => e), "ECONNREFUSED");
  });
});
