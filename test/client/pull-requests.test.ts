/** Which requests a pull makes, and in what order, counted at a proxy in front of the distribution registry. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ImageNotFoundError, RegistryUnreachableError } from "../../src/client/errors.ts";
import { hostPlatform } from "../../src/oci/host-platform.ts";
import { pullImage } from "../../src/client/pull-image.ts";
import { createRegistryClient, type RegistryClient } from "../../src/client/transport/registry-client.ts";
import { type LayoutStore, createLayoutStore } from "../../src/content/layout-store.ts";
import { type RunningRegistry, startDistribution } from "./support/distribution.ts";
import { type TestImage, buildFieldImage, pushTestImage } from "./support/images.ts";
import { startProxy } from "./support/proxy.ts";
import { freePort } from "../e2e/support/index.ts";

let registry: RunningRegistry;
let direct: RegistryClient;
let work: string;
let mine: TestImage;
let theirs: TestImage;

const other = () => ({ ...hostPlatform(), architecture: hostPlatform().architecture === "amd64" ? "arm64" : "amd64" });
const configOf = (image: TestImage) => JSON.parse(new TextDecoder().decode(image.manifest)).config.digest as string;

beforeAll(async () => {
  registry = await startDistribution();
  direct = await createRegistryClient({ registry: registry.host, credentials: null });
  work = await mkdtemp(join(tmpdir(), "2dfs-pull-requests-"));
  mine = await buildFieldImage({ rows: 2, cols: 2, format: "native" });
  theirs = await buildFieldImage({ rows: 2, cols: 2, format: "native", extra: "another platform" });
  await pushTestImage(direct, "multi/img", "mine", mine);
  await pushTestImage(direct, "multi/img", "theirs", theirs);
  const entry = (img: TestImage, platform: object) => ({ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: img.manifestDigest, size: img.manifest.byteLength, platform });
  const index = { schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [entry(theirs, other()), entry(mine, hostPlatform())] };
  await direct.putManifest("multi/img", "v1", new TextEncoder().encode(JSON.stringify(index)), index.mediaType);
});

afterAll(async () => {
  await registry.stop();
  await rm(work, { recursive: true, force: true });
});

/** Runs `pull` through a proxy that records the path of every GET; returns those paths. */
async function countingGets(pull: (host: string, client: RegistryClient, store: LayoutStore) => Promise<void>): Promise<string[]> {
  const gets: string[] = [];
  const proxy = startProxy(registry.host, (req, url, forward) => {
    if (req.method === "GET") gets.push(url.pathname);
    return forward(req);
  });
  try {
    const client = await createRegistryClient({ registry: proxy.host, credentials: null });
    await pull(proxy.host, client, await createLayoutStore(await mkdtemp(join(work, "store-"))));
    return gets;
  } finally {
    proxy.stop();
  }
}

describe("the requests of a pull", () => {
  test("one platform of an index: only that platform's manifest and config are fetched", async () => {
    const dir = join(work, "one-platform");
    const gets = await countingGets(async (host, client, store) => {
      await pullImage(`${host}/multi/img:v1--0.0.0.0`, { dir, store, client });
    });
    expect(gets.some((p) => p.endsWith(`/manifests/${mine.manifestDigest}`))).toBe(true);
    expect(gets.some((p) => p.endsWith(`/blobs/${configOf(mine)}`))).toBe(true);
    expect(gets.filter((p) => p.endsWith(`/manifests/${theirs.manifestDigest}`) || p.endsWith(`/blobs/${configOf(theirs)}`))).toEqual([]);
    expect(await readdir(join(dir, "data"))).toEqual(["r0c0.txt"]);
  });

  test("a platform the index does not have fails before any blob is fetched, naming the ones it has", async () => {
    let error: Error | undefined;
    const gets = await countingGets(async (host, client, store) => {
      const platform = { os: "linux", architecture: "s390x" };
      error = await pullImage(`${host}/multi/img:v1`, { dir: join(work, "no-platform"), store, client, platform }).catch((e) => e);
    });
    expect(error).toBeInstanceOf(ImageNotFoundError);
    expect(String(error?.message)).toContain("linux/s390x");
    expect(String(error?.message)).toContain(`linux/${other().architecture}`);
    expect(gets.filter((p) => p.includes("/blobs/"))).toEqual([]);
  });

  test("allotment downloads start while the config is still on its way", async () => {
    const config = configOf(mine);
    const wanted = mine.allotments.find((a) => a.row === 1 && a.col === 1)!.layer.digest;
    let layerRequestedBeforeConfigAnswered = false;
    let configAnswered = false;
    const proxy = startProxy(registry.host, async (req, url, forward) => {
      if (url.pathname.endsWith(`/blobs/${config}`)) {
        // Hold the config back until the layer has been asked for (or 2 s passed).
        for (let i = 0; i < 200 && !layerRequestedBeforeConfigAnswered; i++) await Bun.sleep(10);
        configAnswered = true;
      }
      if (url.pathname.endsWith(`/blobs/${wanted}`) && !configAnswered) layerRequestedBeforeConfigAnswered = true;
      return forward(req);
    });
    try {
      const client = await createRegistryClient({ registry: proxy.host, credentials: null });
      const store = await createLayoutStore(join(work, "store-overlap"));
      const dir = join(work, "overlap");
      await pullImage(`${proxy.host}/multi/img:mine--1.1.1.1`, { dir, store, client });
      expect(layerRequestedBeforeConfigAnswered).toBe(true);
      expect(await Bun.file(join(dir, "data/r1c1.txt")).text()).toBe(mine.allotments.find((a) => a.row === 1 && a.col === 1)!.files["data/r1c1.txt"]!);
    } finally {
      proxy.stop();
    }
  });

  test("a layer that fails while the config is still on its way fails the pull with that error, and nothing is left unhandled", async () => {
    const config = configOf(mine);
    const wanted = mine.allotments.find((a) => a.row === 0 && a.col === 1)!.layer.digest;
    const proxy = startProxy(registry.host, async (req, url, forward) => {
      if (url.pathname.endsWith(`/blobs/${wanted}`)) return new Response("gone", { status: 404 });
      if (url.pathname.endsWith(`/blobs/${config}`)) await Bun.sleep(200); // the layer's failure comes first
      return forward(req);
    });
    try {
      const client = await createRegistryClient({ registry: proxy.host, credentials: null, retry: { retries: 0 } });
      const store = await createLayoutStore(join(work, "store-layer-fails"));
      const dir = join(work, "layer-fails");
      const error = await pullImage(`${proxy.host}/multi/img:mine--0.1.0.1`, { dir, store, client }).catch((e) => e);
      expect(String(error?.message)).toContain(wanted);
      expect(existsSync(dir)).toBe(false); // Bun.file().exists() is false for any folder
      // Bun fails the test run on an unhandled rejection: give one the chance to surface.
      await Bun.sleep(50);
    } finally {
      proxy.stop();
    }
  });

  test("a registry address where nothing listens fails at once, without the retries meant for a flaky network", async () => {
    const host = `127.0.0.1:${await freePort()}`;
    // Retrying would wait 10 s before the second attempt.
    const client = await createRegistryClient({ registry: host, credentials: null, retry: { retries: 3, baseDelayMs: 10_000 } });
    const store = await createLayoutStore(join(work, "store-refused"));
    const started = performance.now();
    const error = await pullImage(`${host}/any/img:v1`, { dir: join(work, "refused"), store, client }).catch((e) => e);
    expect(error).toBeInstanceOf(RegistryUnreachableError);
    expect(error.message).toContain(`cannot reach the registry ${host} (connection refused)`);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(existsSync(join(work, "refused"))).toBe(false);
  });
});
