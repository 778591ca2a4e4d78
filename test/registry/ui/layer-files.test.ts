import { afterAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync, zstdCompressSync } from "node:zlib";
import { createFilesystemDriver } from "../../../src/registry/driver/filesystem.ts";
import { createMemoryDriver } from "../../../src/registry/driver/memory.ts";
import { MAX_LISTED_FILES } from "../../../src/registry/ui/layer-files.ts";
import { makeTar } from "../../client/support/layers.ts";
import { createTestClient, sha256 } from "../helpers.ts";

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const TAR_ENTRIES = [
  { name: "field/", type: "directory" as const },
  { name: "field/a.txt", content: "alpha" },
  { name: "./field/b.bin", content: new Uint8Array(1500) },
  { name: "field/link", type: "symlink" as const, linkname: "a.txt" },
];
const EXPECTED = [
  { path: "/field/a.txt", size: 5 },
  { path: "/field/b.bin", size: 1500 },
];

async function manyFiles(n: number): Promise<Uint8Array> {
  return makeTar(Array.from({ length: n }, (_, i) => ({ name: `many/f${String(i).padStart(5, "0")}`, content: "x" })));
}

const drivers = {
  memory: async () => createMemoryDriver(),
  filesystem: async () => {
    const dir = await mkdtemp(join(tmpdir(), "2dfs-ui-files-"));
    dirs.push(dir);
    return createFilesystemDriver(dir);
  },
};

for (const [driverName, makeDriver] of Object.entries(drivers)) {
  describe(`GET /ui/api/<name>/layers/<digest>/files (${driverName} driver)`, () => {
    const client = async () => createTestClient({ driver: await makeDriver(), ui: true });
    const files = (c: Awaited<ReturnType<typeof client>>, name: string, digest: string) => c.req("GET", `/ui/api/${name}/layers/${digest}/files`);

    test("lists the regular files of uncompressed, gzip and zstd layers", async () => {
      const c = await client();
      const tar = await makeTar(TAR_ENTRIES);
      for (const bytes of [tar, gzipSync(tar), zstdCompressSync(tar)]) {
        const digest = await c.pushBlob("team/model", new Uint8Array(bytes));
        const r = await files(c, "team/model", digest);
        expect(r.status).toBe(200);
        expect(r.headers.get("content-type")).toStartWith("application/json");
        expect(await r.json()).toEqual({ files: EXPECTED, truncated: false });
      }
    });

    test(`stops at ${MAX_LISTED_FILES} files and says so`, async () => {
      const c = await client();
      const exact = await c.pushBlob("m", await manyFiles(MAX_LISTED_FILES));
      const whole = (await (await files(c, "m", exact)).json()) as { files: unknown[]; truncated: boolean };
      expect(whole.files.length).toBe(MAX_LISTED_FILES);
      expect(whole.truncated).toBe(false);
      const over = await manyFiles(MAX_LISTED_FILES + 5);
      for (const bytes of [over, gzipSync(over)]) {
        const body = (await (await files(c, "m", await c.pushBlob("m", new Uint8Array(bytes)))).json()) as { files: { path: string }[]; truncated: boolean };
        expect(body.truncated).toBe(true);
        expect(body.files.length).toBe(MAX_LISTED_FILES);
        expect(body.files.at(-1)!.path).toBe(`/many/f${String(MAX_LISTED_FILES - 1).padStart(5, "0")}`);
      }
    });

    test("a compressed layer is read only as far as the cap: a corrupt tail past it does not matter", async () => {
      const c = await client();
      const tar = await manyFiles(MAX_LISTED_FILES + 1);
      // Cut the end-of-archive blocks off and put garbage there: a reader that went on would fail.
      const broken = new Uint8Array([...tar.subarray(0, tar.byteLength - 1024), ...new Uint8Array(4096).fill(0x41)]);
      const r = await files(c, "m", await c.pushBlob("m", new Uint8Array(gzipSync(broken))));
      expect(r.status).toBe(200);
      expect(((await r.json()) as { truncated: boolean }).truncated).toBe(true);
    });

    test("a blob linked only into another repository is unknown here (404), as a blob GET is", async () => {
      const c = await client();
      const digest = await c.pushBlob("other/repo", await makeTar(TAR_ENTRIES));
      expect((await c.req("GET", `/v2/team/model/blobs/${digest}`)).status).toBe(404);
      const r = await files(c, "team/model", digest);
      expect(r.status).toBe(404);
      expect(((await r.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("BLOB_UNKNOWN");
      expect((await files(c, "other/repo", digest)).status).toBe(200);
    });

    test("bad digests and names are refused with the registry's JSON errors", async () => {
      const c = await client();
      const code = async (r: Response) => ((await r.json()) as { errors: { code: string }[] }).errors[0]!.code;
      const badDigest = await files(c, "team/model", "sha256:nothex");
      expect(badDigest.status).toBe(400);
      expect(await code(badDigest)).toBe("DIGEST_INVALID");
      const traversal = await files(c, "team/model", "..%2F..%2Fetc");
      expect(traversal.status).toBe(400);
      const badName = await files(c, "Team/Model", sha256("x"));
      expect(badName.status).toBe(400);
      expect(await code(badName)).toBe("NAME_INVALID");
      const unknown = await files(c, "team/model", sha256("never pushed"));
      expect(unknown.status).toBe(404);
      expect(await code(unknown)).toBe("BLOB_UNKNOWN");
      const post = await c.req("POST", `/ui/api/team/model/layers/${sha256("x")}/files`);
      expect(post.status).toBe(405);
    });

    test("a blob that is not a tar is answered 422 with the reason, not 500", async () => {
      const c = await client();
      for (const text of ['{"architecture":"amd64"}', JSON.stringify({ padding: "y".repeat(3000) })]) {
        const r = await files(c, "m", await c.pushBlob("m", text));
        expect(r.status).toBe(422);
        expect(((await r.json()) as { errors: { detail: string }[] }).errors[0]!.detail).toContain("could not be listed");
      }
    });
  });
}

describe("the endpoint's access", () => {
  test("with htpasswd it asks for the password as the API does", async () => {
    const hash = (await Bun.password.hash("s3cret", { algorithm: "bcrypt", cost: 4 })).replace(/^\$2b\$/, "$2y$");
    const c = createTestClient({ ui: true, htpasswd: `alice:${hash}\n` });
    const auth = { Authorization: `Basic ${btoa("alice:s3cret")}` };
    const tar = await makeTar(TAR_ENTRIES);
    const digest = sha256(tar);
    const put = await c.req("POST", `/v2/m/blobs/uploads/?digest=${digest}`, { body: tar, headers: auth });
    expect(put.status).toBe(201);
    const denied = await c.req("GET", `/ui/api/m/layers/${digest}/files`);
    expect(denied.status).toBe(401);
    expect(denied.headers.get("www-authenticate")).toStartWith("Basic ");
    const allowed = await c.req("GET", `/ui/api/m/layers/${digest}/files`, { headers: auth });
    expect(allowed.status).toBe(200);
  });

  test("--no-ui has no such endpoint", async () => {
    const c = createTestClient({ ui: false });
    const digest = await c.pushBlob("m", await makeTar(TAR_ENTRIES));
    expect((await c.req("GET", `/ui/api/m/layers/${digest}/files`)).status).toBe(404);
  });
});
