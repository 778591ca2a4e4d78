import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuthenticationError } from "../../src/client/errors.ts";
import { fetchImageToStore } from "../../src/client/fetch-image.ts";
import { pushImage } from "../../src/client/push-image.ts";
import { createRegistryClient, type RegistryClient } from "../../src/client/transport/registry-client.ts";
import { type LayoutStore, createLayoutStore } from "../../src/content/layout-store.ts";
import { parseReference } from "../../src/oci/reference.ts";
import { loginCommand, logoutCommand } from "../../src/cmd/login.ts";
import { pushCommand } from "../../src/cmd/push.ts";
import { type RunningRegistry, startDistribution } from "./support/distribution.ts";
import { type TestImage, buildFieldImage, pushTestImage } from "./support/images.ts";
import { type FaultProxy, startProxy } from "./support/proxy.ts";

let registry: RunningRegistry;
let direct: RegistryClient;
let work: string;
let store: LayoutStore;
let image: TestImage;
const savedDockerConfig = process.env.DOCKER_CONFIG;

beforeAll(async () => {
  registry = await startDistribution();
  direct = await createRegistryClient({ registry: registry.host, credentials: null });
  work = await mkdtemp(join(tmpdir(), "2dfs-push-"));
  image = await buildFieldImage({ rows: 2, cols: 2, format: "reference" });
  await pushTestImage(direct, "src/img", "v1", image);
  store = await createLayoutStore(join(work, "store"));
  const root = await fetchImageToStore(direct, `${registry.host}/src/img:v1`, store);
  await store.setImage("local/img:v1", root);
});

afterAll(async () => {
  await registry.stop();
  await rm(work, { recursive: true, force: true });
});

afterEach(() => {
  if (savedDockerConfig === undefined) delete process.env.DOCKER_CONFIG;
  else process.env.DOCKER_CONFIG = savedDockerConfig;
});

describe("fetchImageToStore", () => {
  test("copies manifest, config, layers and the reference field's allotments into the store", async () => {
    for (const b of image.blobs) expect(await store.hasBlob(b.digest)).toBe(true);
    expect(await store.hasBlob(image.manifestDigest)).toBe(true);
    expect((await store.resolve("local/img:v1"))?.digest).toBe(image.manifestDigest);
  });
});

describe("push", () => {
  test("to another repository of the same registry mounts every blob instead of uploading", async () => {
    const result = await pushImage(store, "local/img:v1", parseReference(`${registry.host}/dst/img:v2`), { client: direct });
    expect(result.uploaded).toBe(0);
    expect(result.mounted).toBe(image.blobs.length);
    expect(result.digest).toBe(image.manifestDigest);
    const fetched = await direct.getManifest("dst/img", "v2");
    expect(fetched.descriptor.digest).toBe(image.manifestDigest);
    // Reference-format allotments are reachable only through the field blob: they must be there too.
    for (const a of image.allotments) expect(await direct.headBlob("dst/img", a.layer.digest)).toBe(a.layer.size);
  });

  test("a second push finds every blob with HEAD and uploads nothing", async () => {
    const result = await pushImage(store, "local/img:v1", parseReference(`${registry.host}/dst/img:v3`), { client: direct });
    expect(result).toMatchObject({ uploaded: 0, mounted: 0, exists: image.blobs.length });
  });
});

describe("basic auth and login", () => {
  let proxy: FaultProxy;
  const user = "alice";
  const pass = "s3cret:with:colons";
  beforeAll(() => {
    const good = `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
    proxy = startProxy(registry.host, (req, _url, forward) => {
      if (req.headers.get("authorization") !== good) {
        return new Response('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}', {
          status: 401,
          headers: { "www-authenticate": 'Basic realm="test"', "content-type": "application/json" },
        });
      }
      return forward(req);
    });
  });
  afterAll(() => proxy.stop());

  test("push fails without credentials, login refuses a wrong password, and push works after login", async () => {
    const configDir = await mkdtemp(join(work, "docker-config-"));
    process.env.DOCKER_CONFIG = configDir;
    await writeFile(join(configDir, "config.json"), JSON.stringify({ auths: { "other.example": { auth: "eDp5" } }, credsStore: "" }));
    const flags = { store: store.root, quiet: true };
    await expect(pushCommand("local/img:v1", `${proxy.host}/auth/img:v1`, flags)).rejects.toBeInstanceOf(AuthenticationError);

    const stdin = (text: string) => new Blob([`${text}\n`]).stream();
    const refused = await loginCommand(proxy.host, { username: user, passwordStdin: true, stdin: stdin("wrong") }).catch((e) => e);
    expect(refused).toBeInstanceOf(AuthenticationError);
    // Nothing was stored, so the message must not send the user to "the stored credentials".
    expect(refused.message).toBe(`login to ${proxy.host} failed: the registry refused the user "${user}" or its password; nothing was saved`);
    const before = JSON.parse(await readFile(join(configDir, "config.json"), "utf8"));
    expect(Object.keys(before.auths)).toEqual(["other.example"]);

    await loginCommand(proxy.host, { username: user, passwordStdin: true, stdin: stdin(pass) });
    const saved = JSON.parse(await readFile(join(configDir, "config.json"), "utf8"));
    expect(Buffer.from(saved.auths[proxy.host].auth, "base64").toString()).toBe(`${user}:${pass}`);
    expect(saved.auths["other.example"]).toEqual({ auth: "eDp5" });
    expect(saved.credsStore).toBe("");
    expect((await stat(join(configDir, "config.json"))).mode & 0o777).toBe(0o600);

    await pushCommand("local/img:v1", `${proxy.host}/auth/img:v1`, flags);
    expect((await direct.getManifest("auth/img", "v1")).descriptor.digest).toBe(image.manifestDigest);

    await logoutCommand(proxy.host);
    const after = JSON.parse(await readFile(join(configDir, "config.json"), "utf8"));
    expect(after.auths[proxy.host]).toBeUndefined();
    expect(after.auths["other.example"]).toEqual({ auth: "eDp5" });
  });
});
