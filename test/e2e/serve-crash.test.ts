/** `2dfs serve` killed with SIGKILL in the middle of a chunk: no partial blob is ever visible, and the upload resumes after a restart. */
import { afterAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { connect } from "node:net";
import { seededBytes } from "../support/temp.ts";
import { describeIfE2E, makeTempDir, removeTempDir, startTdfsServer, type TdfsServer } from "./support/index.ts";

describeIfE2E("2dfs serve crash safety (e2e)", [], () => {
  const servers: TdfsServer[] = [];
  let dataRoot: string | undefined;
  afterAll(async () => {
    for (const s of servers) await s.stop().catch(() => {});
    if (dataRoot) await removeTempDir(dataRoot);
  });

  test("a server killed mid-chunk restarts with the upload resumable and no partial blob", async () => {
    dataRoot = await makeTempDir("2dfs-crash-");
    const data = `${dataRoot}/data`;
    const blob = seededBytes(3 << 20, 7);
    const digest = `sha256:${createHash("sha256").update(blob).digest("hex")}`;
    const first = await startTdfsServer([], data);
    servers.push(first);

    const start = await fetch(`http://${first.host}/v2/crash/test/blobs/uploads/`, { method: "POST" });
    expect(start.status).toBe(202);
    const uploadPath = new URL(start.headers.get("location")!, `http://${first.host}`).pathname;
    const chunk1 = blob.subarray(0, 1 << 20);
    const patched = await fetch(`http://${first.host}${uploadPath}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/octet-stream", "Content-Range": `0-${chunk1.length - 1}` },
      body: chunk1,
    });
    expect(patched.status).toBe(202);

    // The second chunk announces 1 MiB and sends half of it; then the server dies.
    const [host, port] = first.host.split(":") as [string, string];
    const socket = connect(Number(port), host);
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write(
      `PATCH ${uploadPath} HTTP/1.1\r\nHost: ${first.host}\r\nContent-Type: application/octet-stream\r\n` +
        `Content-Range: ${1 << 20}-${(2 << 20) - 1}\r\nContent-Length: ${1 << 20}\r\n\r\n`,
    );
    socket.write(blob.subarray(1 << 20, (1 << 20) + (512 << 10)));
    await Bun.sleep(300);
    await first.crash();
    socket.destroy();

    const second = await startTdfsServer([], data);
    servers.push(second);
    const head = await fetch(`http://${second.host}/v2/crash/test/blobs/${digest}`, { method: "HEAD" });
    expect(head.status).toBe(404);
    const status = await fetch(`http://${second.host}${uploadPath}`);
    expect(status.status).toBe(204);
    expect(status.headers.get("range")).toBe(`0-${(1 << 20) - 1}`);

    const rest = blob.subarray(1 << 20);
    const resumed = await fetch(`http://${second.host}${uploadPath}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/octet-stream", "Content-Range": `${1 << 20}-${blob.length - 1}` },
      body: rest,
    });
    expect(resumed.status).toBe(202);
    const location = new URL(resumed.headers.get("location")!, `http://${second.host}`);
    location.searchParams.set("digest", digest);
    const done = await fetch(location, { method: "PUT" });
    expect(done.status).toBe(201);
    const got = new Uint8Array(await (await fetch(`http://${second.host}/v2/crash/test/blobs/${digest}`)).arrayBuffer());
    expect(got.length).toBe(blob.length);
    expect(Buffer.compare(got, blob)).toBe(0);
  });

  test("a wrong digest on upload is rejected and nothing is stored", async () => {
    const server = await startTdfsServer();
    servers.push(server);
    const body = seededBytes(1000, 3);
    const wrong = `sha256:${createHash("sha256").update("other").digest("hex")}`;
    const right = `sha256:${createHash("sha256").update(body).digest("hex")}`;
    const res = await fetch(`http://${server.host}/v2/bad/digest/blobs/uploads/?digest=${wrong}`, { method: "POST", body, headers: { "Content-Type": "application/octet-stream" } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("DIGEST_INVALID");
    for (const d of [wrong, right]) expect((await fetch(`http://${server.host}/v2/bad/digest/blobs/${d}`, { method: "HEAD" })).status).toBe(404);
  });
});
