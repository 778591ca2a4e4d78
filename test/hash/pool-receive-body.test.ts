import { afterAll, describe, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { socketGet, socketTarget } from "../../src/client/socket-http-get.ts";
import { createWorkerPool } from "../../src/hash/pool.ts";
import { sha256Bytes } from "../../src/hash/sha256.ts";
import { rawServer } from "../support/raw-tcp.ts";
import { makeTempDir, seededBytes } from "../support/temp.ts";

// A pull hands each socket body to a pool: the calling thread or a worker thread reads it into
// the file (src/client/pull-image.ts). Both executors are tested on their own.

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

const body = seededBytes(3_000_000, 7);

/** A server answering GET /whole with the body (Content-Length), /cut with half of it and then a closed connection. */
function startServer(): { host: string; stop(): void } {
  return rawServer({
    async request(conn, head) {
      const cut = head.startsWith("GET /cut ");
      await conn.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
      // Written as the socket takes it, then closed.
      await conn.write(cut ? body.subarray(0, body.length >> 1) : body);
      conn.end();
    },
  });
}

// Worker only (every body crosses to the thread), and calling thread only (no worker at all).
const executors = [
  { name: "a worker thread", inline: false },
  { name: "the calling thread", inline: true },
] as const;

describe.each(executors)("socket bodies read by a pool on $name", ({ inline }) => {
  test("a body lands in the file whole, with its digest; a cut one and one too large fail by name", async () => {
    const { dir, cleanup } = await makeTempDir();
    cleanups.push(cleanup);
    const server = startServer();
    const pool = createWorkerPool({ workers: 1, inline, entry: "receive-worker" });
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
