import { afterAll, describe, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { socketGet, socketTarget } from "../../../src/client/transport/socket-http-get.ts";
import { createBodyReceivers } from "../../../src/client/transport/body-receivers.ts";
import { sha256Bytes } from "../../../src/hash/sha256.ts";
import { rawServer } from "../../support/raw-tcp.ts";
import { makeTempDir, seededBytes } from "../../support/temp.ts";

// A large pull hands each socket body to the calling thread or a worker thread, which reads it
// into the file (src/client/transport/body-receivers.ts); both at once, and the calling thread alone.

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

describe("body receivers", () => {
  for (const workers of [0, 1]) {
    test(`${workers} worker thread(s): bodies read at once land whole with their digests; a cut one and one too large fail by name`, async () => {
      const { dir, cleanup } = await makeTempDir();
      cleanups.push(cleanup);
      const server = startServer();
      const receivers = createBodyReceivers(workers);
      try {
        // A worker takes bodies only once it has loaded: give it time, so it gets some of them.
        if (workers > 0) await Bun.sleep(300);
        const target = socketTarget(`http://${server.host}`)!;
        const open = async (path: string) => {
          const answer = (await socketGet(target, path, {}, 5_000))!;
          expect(answer.status).toBe(200);
          return answer.detach();
        };
        const paths = { whole: join(dir, "whole"), whole2: join(dir, "whole2"), cut: join(dir, "cut"), small: join(dir, "small") };
        // Four at once: with a worker, the balance sends two to each thread.
        const [whole, whole2, dropped, tooLarge] = await Promise.all([
          receivers.receive({ ...(await open("/whole")), path: paths.whole, room: body.length, timeoutMs: 5_000 }),
          receivers.receive({ ...(await open("/whole")), path: paths.whole2, room: body.length, timeoutMs: 5_000 }),
          receivers.receive({ ...(await open("/cut")), path: paths.cut, room: body.length, timeoutMs: 5_000 }).catch((e: Error) => e),
          receivers.receive({ ...(await open("/whole")), path: paths.small, room: 1000, timeoutMs: 5_000 }).catch((e: Error) => e),
        ]);
        for (const [result, path] of [[whole, paths.whole], [whole2, paths.whole2]] as const) {
          expect(result).toEqual({ digest: sha256Bytes(body), bytes: body.length });
          expect(new Uint8Array(await readFile(path))).toEqual(body);
        }
        expect((dropped as Error).name).toBe("SocketError");
        // What arrived before the drop stays written, for a Range request to continue from.
        expect(new Uint8Array(await readFile(paths.cut))).toEqual(body.subarray(0, body.length >> 1));
        expect((tooLarge as Error).name).toBe("BodyTooLargeError");
      } finally {
        await receivers.close();
        server.stop();
      }
    });
  }
});
