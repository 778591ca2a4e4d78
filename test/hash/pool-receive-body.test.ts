import { afterAll, describe, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { socketGet, socketTarget } from "../../src/client/socket-http-get.ts";
import { createWorkerPool } from "../../src/hash/pool.ts";
import { sha256Bytes } from "../../src/hash/sha256.ts";
import { makeTempDir, seededBytes } from "../support/temp.ts";

// A pull hands each socket body to a pool: the calling thread or a worker thread reads it into
// the file (src/client/pull-image.ts). Here the pool has workers only, so every body crosses.

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

const body = seededBytes(3_000_000, 7);

/** A server answering GET /whole with the body (Content-Length), /cut with half of it and then a closed connection. */
function startServer(): { host: string; stop(): void } {
  const server = Bun.listen<{ seen: string }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        s.data = { seen: "" };
      },
      data(s, chunk) {
        s.data.seen += new TextDecoder("latin1").decode(chunk);
        if (!s.data.seen.includes("\r\n\r\n")) return;
        const cut = s.data.seen.startsWith("GET /cut ");
        const head = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`;
        const payload = cut ? body.subarray(0, body.length >> 1) : body;
        // Written in pieces as the socket takes them, then closed.
        s.write(new TextEncoder().encode(head));
        let at = 0;
        const pump = () => {
          while (at < payload.length) {
            const n = s.write(payload.subarray(at, at + 65536));
            if (n <= 0) return setTimeout(pump, 1);
            at += n;
          }
          s.end();
        };
        pump();
      },
    },
  });
  return { host: `127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}

describe("socket bodies read by a pool's worker thread", () => {
  test("a body read on a worker lands in the file whole, with its digest; a cut one and one too large fail by name", async () => {
    const { dir, cleanup } = await makeTempDir();
    cleanups.push(cleanup);
    const server = startServer();
    const pool = createWorkerPool({ workers: 1, inline: false, entry: "receive-worker" });
    try {
      const target = socketTarget(`http://${server.host}`)!;
      const open = async (path: string) => {
        const answer = (await socketGet(target, path, {}, 5_000))!;
        expect(answer.status).toBe(200);
        return answer.detach();
      };

      const whole = join(dir, "whole");
      const result = await pool.receiveBody({ ...(await open("/whole")), path: whole, room: body.length, timeoutMs: 5_000 });
      expect(result).toEqual({ digest: sha256Bytes(body), bytes: body.length });
      expect(new Uint8Array(await readFile(whole))).toEqual(body);

      const cut = join(dir, "cut");
      const dropped = await pool.receiveBody({ ...(await open("/cut")), path: cut, room: body.length, timeoutMs: 5_000 }).catch((e) => e);
      expect(dropped.name).toBe("SocketError");
      // What arrived before the drop stays written, for a Range request to continue from.
      expect(new Uint8Array(await readFile(cut))).toEqual(body.subarray(0, body.length >> 1));

      const small = join(dir, "small");
      const tooLarge = await pool.receiveBody({ ...(await open("/whole")), path: small, room: 1000, timeoutMs: 5_000 }).catch((e) => e);
      expect(tooLarge.name).toBe("BodyTooLargeError");
    } finally {
      await pool.close();
      server.stop();
    }
  });
});
