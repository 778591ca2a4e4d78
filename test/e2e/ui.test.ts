/**
 * The web page of `2dfs serve` in a real headless Chromium (Debian's package, driven by
 * playwright-core): open a pushed field, drag a rectangle, check the suffix and bytes shown,
 * copy the docker command and run it with a real dockerd against the same server. Also: the
 * keyboard, typed suffixes (unions), reference and multi-platform images, --htpasswd (the
 * browser's credentials), --no-ui, render/selection times on a 1,000-allotment field, tags
 * fetched only for the repositories opened, and file names listed from the layer for an image
 * whose history names none.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type BrowserContext, type Page, chromium } from "playwright-core";
import { composeNative } from "../../src/field/native-format.ts";
import { sha256Bytes } from "../../src/hash/sha256.ts";
import type { ImageManifest } from "../../src/oci/manifest.ts";
import { MediaType } from "../../src/oci/media-types.ts";
import { run2dfs } from "../support/cli.ts";
import { writeTree } from "../support/temp.ts";
import {
  type DockerdHandle,
  describeIfE2E,
  fieldContext,
  fieldFile,
  makeBusyboxBase,
  makeTempDir,
  must,
  removeTempDir,
  startDockerd,
  startTdfsServer,
  type TdfsServer,
  type ToolName,
} from "./support/index.ts";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic"];
// A 2 x 3 field with a hole at (1, 1); cell (r, c) holds /field/rR-cC.txt of (r * 3 + c + 1) KiB.
const CELLS = [[0, 0], [0, 1], [0, 2], [1, 0], [1, 2]] as const;
const fileOf = fieldFile;

async function openBrowser(dir: string, name: string, opts: { httpCredentials?: { username: string; password: string } } = {}): Promise<BrowserContext> {
  // A fresh profile per browser: nothing cached or remembered between runs.
  return chromium.launchPersistentContext(join(dir, `profile-${name}`), {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 860 },
    ...opts,
  });
}

/** Pushes a synthetic native field of rows x cols allotments (tiny blobs) straight through the /v2 API. */
async function pushSyntheticField(host: string, name: string, rows: number, cols: number, auth?: string): Promise<void> {
  const headers: Record<string, string> = auth ? { Authorization: `Basic ${btoa(auth)}` } : {};
  const upload = async (bytes: Uint8Array) => {
    const digest = sha256Bytes(bytes);
    const r = await fetch(`http://${host}/v2/${name}/blobs/uploads/?digest=${digest}`, { method: "POST", body: bytes, headers });
    if (r.status !== 201) throw new Error(`upload ${digest}: ${r.status} ${await r.text()}`);
    return { digest, size: bytes.byteLength };
  };
  const allotments = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const blob = await upload(new TextEncoder().encode(`cell ${r}.${c} `.repeat(1 + ((r + c) % 7))));
      allotments.push({ row: r, col: c, diffId: blob.digest, layer: { mediaType: MediaType.ociLayer, ...blob } });
    }
  }
  const config = { architecture: "amd64", os: "linux", rootfs: { type: "layers" as const, diff_ids: [] }, history: [] };
  const image = composeNative({ config }, allotments, {
    created: "2020-01-01T00:00:00Z",
    describe: (a) => `2dfs allotment ${a.row}.${a.col}: /synthetic/${a.row}-${a.col}.bin`,
    sha256: sha256Bytes,
  });
  await upload(image.configBytes);
  const put = await fetch(`http://${host}/v2/${name}/manifests/v1`, {
    method: "PUT",
    body: image.manifestBytes,
    headers: { ...headers, "Content-Type": MediaType.ociManifest },
  });
  if (put.status !== 201) throw new Error(`manifest: ${put.status} ${await put.text()}`);
}

/**
 * Copies `from:v1` to `to:v1` with the config history dropped, as a copy by another tool may
 * leave it: the same layers (mounted) and manifest annotations, so the field is there but no
 * history names any file.
 */
async function copyWithoutHistory(host: string, from: string, to: string): Promise<void> {
  const manifest = (await (await fetch(`http://${host}/v2/${from}/manifests/v1`, { headers: { Accept: MediaType.ociManifest } })).json()) as ImageManifest;
  const config = (await (await fetch(`http://${host}/v2/${from}/blobs/${manifest.config.digest}`)).json()) as { history?: unknown };
  delete config.history;
  for (const layer of manifest.layers) {
    const r = await fetch(`http://${host}/v2/${to}/blobs/uploads/?mount=${layer.digest}&from=${from}`, { method: "POST" });
    if (r.status !== 201) throw new Error(`mount ${layer.digest}: ${r.status} ${await r.text()}`);
  }
  const configBytes = new TextEncoder().encode(JSON.stringify(config));
  const digest = sha256Bytes(configBytes);
  const up = await fetch(`http://${host}/v2/${to}/blobs/uploads/?digest=${digest}`, { method: "POST", body: configBytes });
  if (up.status !== 201) throw new Error(`config: ${up.status} ${await up.text()}`);
  const copy = { ...manifest, config: { ...manifest.config, digest, size: configBytes.byteLength } };
  const put = await fetch(`http://${host}/v2/${to}/manifests/v1`, { method: "PUT", body: JSON.stringify(copy), headers: { "Content-Type": MediaType.ociManifest } });
  if (put.status !== 201) throw new Error(`manifest: ${put.status} ${await put.text()}`);
}

/** Drags from one grid cell to another with the real mouse. */
async function drag(page: Page, from: [number, number], to: [number, number]): Promise<void> {
  const box = async ([r, c]: [number, number]) => (await page.locator("tbody tr").nth(r).locator("td").nth(c).boundingBox())!;
  const a = await box(from);
  const b = await box(to);
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 5 });
  await page.mouse.up();
}

describeIfE2E("2dfs serve web page in Chromium (e2e)", ["docker", "dockerd", "busybox", "chromium" as ToolName], () => {
  let dir: string;
  let server: TdfsServer;
  let locked: TdfsServer;
  let noUi: TdfsServer;
  let dockerd: DockerdHandle;
  let browser: BrowserContext;
  const store = () => join(dir, "store");
  const ok2dfs = (args: string[]) => must(`2dfs ${args.join(" ")}`, run2dfs([...args, "--store", store()]));
  /** A new page on the field of `ref` (NAME:TAG on the main server), once its grid is drawn. */
  const openField = async (ref: string): Promise<Page> => {
    const page = await browser.newPage();
    await page.goto(`http://${server.host}/#${ref}`);
    await page.locator("td.full").first().waitFor();
    return page;
  };

  beforeAll(async () => {
    expect(existsSync(CHROMIUM)).toBe(true);
    dir = await makeTempDir("2dfs-e2e-ui-");
    const hash = (await Bun.password.hash("s3cret", { algorithm: "bcrypt", cost: 4 })).replace(/^\$2b\$/, "$2y$");
    await writeFile(join(dir, "htpasswd"), `alice:${hash}\n`);
    [server, locked, noUi, dockerd] = await Promise.all([
      startTdfsServer(),
      startTdfsServer(["--htpasswd", join(dir, "htpasswd")]),
      startTdfsServer(["--no-ui"]),
      startDockerd(),
    ]);
    const single = await makeBusyboxBase(join(dir, "single"));
    const multi = await makeBusyboxBase(join(dir, "multi"), { platforms: ["amd64", "arm64"] });
    await writeTree(dir, fieldContext(CELLS, (r, c) => `r${r}-c${c}\n`.padEnd((r * 3 + c + 1) * 1024, ".")));
    const f = join(dir, "ctx", "2dfs.json");
    await ok2dfs(["build", "-t", "model:v1", "-f", f, "--base", `oci:${single.layoutDir}:${single.tag}`, "--quiet"]);
    await ok2dfs(["build", "-t", "ref:v1", "-f", f, "--base", `oci:${single.layoutDir}:${single.tag}`, "--format", "reference", "--quiet"]);
    await ok2dfs(["build", "-t", "multi:v1", "-f", f, "--base", `oci:${multi.layoutDir}:${multi.tag}`, "--quiet"]);
    for (const name of ["model", "ref", "multi"]) await ok2dfs(["push", `${name}:v1`, `${server.host}/e2e/${name}:v1`, "--quiet"]);
    await pushSyntheticField(server.host, "e2e/big", 40, 25);
    await copyWithoutHistory(server.host, "e2e/model", "e2e/nohistory");
    // More repositories than a search loads the tags of (8): 10 in all.
    for (let i = 0; i < 5; i++) await pushSyntheticField(server.host, `e2e/team/r${i}`, 1, 1);
    await pushSyntheticField(locked.host, "e2e/locked", 2, 2, "alice:s3cret");
    browser = await openBrowser(dir, "main");
    await browser.grantPermissions(["clipboard-read", "clipboard-write"], { origin: `http://${server.host}` });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.allSettled([server?.stop(), locked?.stop(), noUi?.stop(), dockerd?.stop()]);
    await removeTempDir(dir);
  });

  test("drag a rectangle, check suffix and bytes, copy the docker command and run it with Docker", async () => {
    const page = await browser.newPage();
    const external: string[] = [];
    page.on("request", (r) => {
      if (!r.url().startsWith(`http://${server.host}/`) && !r.url().startsWith("data:")) external.push(r.url());
    });
    await page.goto(`http://${server.host}/`);
    // The repository list and its search box (a search naming one repository lists its tags).
    await page.locator("#repos .repo", { hasText: "e2e/model" }).waitFor();
    await page.fill("#search", "mod");
    expect(await page.locator("#repos .repo").allTextContents()).toEqual(["e2e/model"]);
    await page.locator("#repos a", { hasText: "v1" }).click();
    await page.locator("td.full").first().waitFor();

    // Grid: indices, sizes, the hole, the base layer summary.
    expect(await page.locator("thead th").allTextContents()).toEqual(["row \\ column", "0", "1", "2"]);
    expect(await page.locator("tbody th").allTextContents()).toEqual(["0", "1"]);
    expect(await page.locator("td.full").count()).toBe(5);
    expect(await page.locator("td.empty").getAttribute("aria-label")).toBe("row 1 column 1, empty");
    expect(await page.locator("#summary").textContent()).toContain("5 allotments");
    expect(await page.locator("#summary").textContent()).toContain("2 base layers");
    expect(await page.locator("tbody tr").nth(0).locator("td").nth(2).getAttribute("title")).toContain(fileOf(0, 2));

    await drag(page, [0, 1], [1, 2]);
    expect(await page.inputValue("#suffix")).toBe("--0.1.1.2");
    expect(await page.textContent("#sel-count")).toBe("3");
    // The bytes shown are the selected allotment layers' sizes in the manifest.
    const manifest = (await (await fetch(`http://${server.host}/v2/e2e/model/manifests/v1`, { headers: { Accept: MediaType.ociManifest } })).json()) as ImageManifest;
    const cells = manifest.annotations!["io.2dfs.field.cells"]!.split(" ");
    const allotmentLayers = manifest.layers.slice(manifest.layers.length - cells.length);
    const expected = cells.reduce((sum, cell, i) => (["0.1", "0.2", "1.2"].includes(cell) ? sum + allotmentLayers[i]!.size : sum), 0);
    expect(await page.textContent("#sel-bytes")).toContain(`(${expected.toLocaleString("en")} bytes)`);

    await page.click('button[data-copy="docker-cmd"]');
    const command = await page.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText());
    expect(command).toBe(`docker pull ${server.host}/e2e/model:v1--0.1.1.2`);
    const [, , ref] = command.split(" ");
    const pulled = await dockerd.docker(["pull", ref!]);
    expect(pulled.code).toBe(0);
    const listed = await dockerd.docker(["run", "--rm", "--network", "none", ref!, "sh", "-c", "find /field -type f | sort"]);
    expect(listed.stdout.trim().split("\n")).toEqual([fileOf(0, 1), fileOf(0, 2), fileOf(1, 2)]);

    expect(await page.textContent("#tdfs-cmd")).toBe(`2dfs pull ${server.host}/e2e/model:v1--0.1.1.2 -o ./model-partition`);
    const download = await page.getAttribute("#manifest-link", "href");
    const viaLink = await page.evaluate(async (href) => (await fetch(href!)).json(), download);
    expect((viaLink as ImageManifest).annotations?.["io.2dfs.field.cells"]).toBe("0.1 0.2 1.2");
    expect(external).toEqual([]);
    await page.close();
  }, 120_000);

  test("keyboard (arrows + Shift), Ctrl for a union, and a typed suffix", async () => {
    const page = await openField("e2e/model:v1");
    await page.locator("td").first().focus();
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("Shift+ArrowDown");
    await page.keyboard.press("Shift+ArrowRight");
    expect(await page.inputValue("#suffix")).toBe("--0.1.1.2");
    await page.keyboard.press("ArrowLeft");
    await page.keyboard.press("ArrowLeft");
    await page.keyboard.press("Control+Space");
    expect(await page.inputValue("#suffix")).toBe("--0.1.1.2--1.0.1.0");
    expect(await page.textContent("#sel-count")).toBe("4");
    await page.keyboard.press("Escape");
    expect(await page.textContent("#sel-count")).toBe("0");
    await page.fill("#suffix", "--0.0.0.1--0.1.1.1");
    expect(await page.textContent("#sel-count")).toBe("2");
    expect(await page.locator('td[aria-selected="true"]').count()).toBe(2);
    await page.fill("#suffix", "--1.0.0.0");
    expect(await page.textContent("#suffix-error")).toContain("first row 1 is after last row 0");
    await page.close();
  }, 60_000);

  test("reference-format and multi-platform fields, with the platform picker", async () => {
    const page = await openField("e2e/ref:v1");
    expect(await page.locator("td.full").count()).toBe(5);
    // Its partition's history names no files: the hovered cell's come from its layer.
    await page.locator("tbody tr").nth(1).locator("td").nth(2).hover();
    await page.locator("#cell-info", { hasText: fileOf(1, 2) }).waitFor();
    // 2dfs serve answers a reference field's plain tag flattened, cells and sizes included.
    await drag(page, [0, 0], [0, 2]);
    expect(await page.textContent("#docker-cmd")).toBe(`docker pull ${server.host}/e2e/ref:v1--0.0.0.2`);

    await page.goto(`http://${server.host}/#e2e/multi:v1`);
    await page.locator("#platform-row:not([hidden])").waitFor();
    expect(await page.locator("#platform option").allTextContents()).toEqual(["linux/amd64", "linux/arm64"]);
    await page.selectOption("#platform", "linux/arm64");
    await page.locator("td.full").first().waitFor();
    await drag(page, [1, 0], [1, 0]);
    expect(await page.textContent("#docker-cmd")).toBe(`docker pull --platform linux/arm64 ${server.host}/e2e/multi:v1--1.0.1.0`);
    await page.close();
  }, 60_000);

  test("a platform picked while the first one still loads wins: the late load neither draws nor resets the picker", async () => {
    const response = await fetch(`http://${server.host}/v2/e2e/multi/manifests/v1`, { headers: { Accept: MediaType.ociIndex } });
    const index = (await response.json()) as { manifests: { digest: string; platform?: { architecture: string } }[] };
    const amd64 = index.manifests.find((d) => d.platform?.architecture === "amd64")!.digest;
    const page = await browser.newPage();
    // Hold the default platform's manifest until the other platform is drawn.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let holding = 0;
    const isAmd64 = (url: string) => url.includes("/v2/e2e/multi/manifests/") && url.endsWith(amd64.slice(7)); // ":" may be escaped
    await page.route((url) => isAmd64(url.href), async (route) => {
      holding++;
      await held;
      await route.continue();
    });
    await page.goto(`http://${server.host}/#e2e/multi:v1`);
    await page.locator("#platform-row:not([hidden])").waitFor();
    await page.selectOption("#platform", "linux/arm64");
    await page.locator("td.full").first().waitFor();
    await drag(page, [1, 0], [1, 0]);
    const command = `docker pull --platform linux/arm64 ${server.host}/e2e/multi:v1--1.0.1.0`;
    expect(await page.textContent("#docker-cmd")).toBe(command);
    // Let the held load finish. Before the fix it drew amd64's grid over arm64's, which
    // cleared the selection under the user (and a drag in progress lost its cells).
    expect(holding).toBe(1);
    const late = page.waitForResponse((r) => isAmd64(r.url()));
    release();
    await late;
    await page.waitForTimeout(300);
    expect(await page.inputValue("#platform")).toBe("linux/arm64");
    expect(await page.textContent("#sel-count")).toBe("1");
    expect(await page.textContent("#docker-cmd")).toBe(command);
    await page.close();
  }, 60_000);

  test("a 1,000-allotment field renders and selects without lag", async () => {
    const page = await openField("e2e/big:v1");
    expect(await page.locator("td.full").count()).toBe(1000);
    await drag(page, [0, 0], [9, 9]);
    await page.locator("td").first().focus();
    for (let i = 0; i < 10; i++) await page.keyboard.press("Shift+ArrowDown");
    expect(await page.inputValue("#suffix")).toBe("--0.0.10.0");
    const t = await page.evaluate(() => (globalThis as unknown as { __tdfsTimings: { renderMs: number; selectMs: number[] } }).__tdfsTimings);
    // The drag and the ten keys each changed the selection (timed since the render); a render that never finished leaves -1.
    expect(t.selectMs.length).toBeGreaterThanOrEqual(11);
    expect(t.renderMs).toBeGreaterThan(0);
    const worst = Math.max(...t.selectMs);
    console.log(`1,000 allotments: render ${t.renderMs.toFixed(1)} ms, ${t.selectMs.length} selection changes, worst ${worst.toFixed(1)} ms, median ${[...t.selectMs].sort((a, b) => a - b)[t.selectMs.length >> 1]!.toFixed(1)} ms`);
    expect(t.renderMs).toBeLessThan(500);
    expect(worst).toBeLessThan(50);
    await page.close();
  }, 60_000);

  test("tags are fetched only for the repositories opened, a narrow search, or the deep link", async () => {
    const tagLists = (page: Page) => {
      const seen: string[] = [];
      page.on("request", (r) => {
        const url = new URL(r.url());
        if (url.pathname.endsWith("/tags/list")) seen.push(`${url.pathname}${url.search}`);
      });
      return seen;
    };
    const page = await browser.newPage();
    const seen = tagLists(page);
    await page.goto(`http://${server.host}/`);
    await page.locator("#repos-status", { hasText: /^10 repositories$/ }).waitFor();
    expect(await page.locator("#repos .repo").count()).toBe(10);
    await page.waitForTimeout(500);
    expect(seen).toEqual([]);
    expect(await page.locator("#repos a").count()).toBe(0);

    // Opening one lists its tags (paged: n= and the Link header), and only its.
    const multi = page.locator("#repos button.repo", { hasText: "e2e/multi" });
    expect(await multi.getAttribute("aria-expanded")).toBe("false");
    await multi.click();
    await page.locator("#repos a", { hasText: "v1" }).waitFor();
    expect(await multi.getAttribute("aria-expanded")).toBe("true");
    expect(seen).toEqual(["/v2/e2e/multi/tags/list?n=1000"]);
    // Closed and opened again: the tags are remembered.
    await multi.click();
    expect(await page.locator("#repos a").count()).toBe(0);
    await multi.press("Enter");
    expect(await page.locator("#repos a").count()).toBe(1);

    // A search naming all 10 loads nothing; one naming a single repository loads its tags.
    await page.fill("#search", "e2e");
    await page.waitForTimeout(600);
    expect(seen).toHaveLength(1);
    await page.fill("#search", "nohist");
    await page.locator("#repos a", { hasText: "v1" }).waitFor();
    expect(seen).toEqual(["/v2/e2e/multi/tags/list?n=1000", "/v2/e2e/nohistory/tags/list?n=1000"]);
    await page.close();

    // A deep link opens its image and its repository's tags, nothing else.
    const deep = await browser.newPage();
    const deepSeen = tagLists(deep);
    await deep.goto(`http://${server.host}/#e2e/model:v1`);
    await deep.locator("td.full").first().waitFor();
    await deep.locator('#repos a[aria-current="page"]', { hasText: "v1" }).waitFor();
    await deep.waitForTimeout(300);
    expect(deepSeen).toEqual(["/v2/e2e/model/tags/list?n=1000"]);
    await deep.close();
  }, 60_000);

  test("an image whose history names no files: a hovered or focused cell lists its layer, once", async () => {
    const page = await browser.newPage();
    const listings: string[] = [];
    page.on("request", (r) => {
      if (r.url().includes("/ui/api/")) listings.push(new URL(r.url()).pathname);
    });
    await page.goto(`http://${server.host}/#e2e/nohistory:v1`);
    await page.locator("td.full").first().waitFor();
    expect(await page.locator("td.full").count()).toBe(5);
    const cell = (r: number, c: number) => page.locator("tbody tr").nth(r).locator("td").nth(c);
    expect(await cell(0, 2).getAttribute("title")).not.toContain("/field/");
    await page.waitForTimeout(400);
    expect(listings).toEqual([]); // nothing listed up front

    await cell(0, 2).hover();
    await page.locator("#cell-info", { hasText: fileOf(0, 2) }).waitFor();
    expect(await cell(0, 2).getAttribute("title")).toContain(fileOf(0, 2));
    expect(await cell(0, 2).getAttribute("aria-label")).toContain(fileOf(0, 2));
    expect(listings).toHaveLength(1);
    expect(listings[0]).toMatch(/^\/ui\/api\/e2e\/nohistory\/layers\/sha256:[0-9a-f]{64}\/files$/);

    // The keyboard lists the focused cell too; back on the first cell nothing is fetched again.
    await cell(0, 2).focus();
    await page.keyboard.press("ArrowDown");
    await page.locator("#cell-info", { hasText: fileOf(1, 2) }).waitFor();
    await page.keyboard.press("ArrowUp");
    await page.locator("#cell-info", { hasText: fileOf(0, 2) }).waitFor();
    await page.waitForTimeout(300);
    expect(listings).toHaveLength(2);

    // An image whose history names its files asks for none.
    await page.goto(`http://${server.host}/#e2e/model:v1`);
    await page.locator("#image-h", { hasText: "e2e/model:v1" }).waitFor();
    await page.locator("td.full").first().waitFor();
    await cell(1, 0).hover();
    await page.locator("#cell-info", { hasText: fileOf(1, 0) }).waitFor();
    await page.waitForTimeout(300);
    expect(listings).toHaveLength(2);
    await page.close();
  }, 60_000);

  test("--htpasswd: the browser's credentials open the page; without them it is refused", async () => {
    const withPassword = await openBrowser(dir, "alice", { httpCredentials: { username: "alice", password: "s3cret" } });
    try {
      const page = await withPassword.newPage();
      await page.goto(`http://${locked.host}/#e2e/locked:v1`);
      await page.locator("td.full").first().waitFor();
      expect(await page.locator("td.full").count()).toBe(4);
    } finally {
      await withPassword.close();
    }
    // Without credentials the page is refused with the challenge that makes a browser prompt.
    const refused = await fetch(`http://${locked.host}/`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toStartWith("Basic ");
  }, 60_000);

  test("--no-ui: no page at /", async () => {
    expect((await fetch(`http://${noUi.host}/`)).status).toBe(404);
    expect((await fetch(`http://${noUi.host}/v2/`)).status).toBe(200);
  });
});
