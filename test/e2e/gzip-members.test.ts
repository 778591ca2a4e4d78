/**
 * gzip layers as 2dfs writes them (libdeflate, one gzip member per 2 MiB of tar) read by every
 * real client: docker, containerd, podman, and skopeo + umoci. A layer of several members is what
 * a large compressible allotment becomes; a reader that stopped after the first member would see
 * a tar cut short.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { run2dfs } from "../support/cli.ts";
import { writeTree } from "../support/temp.ts";
import {
  type ContainerdHandle,
  createPodman,
  type DockerdHandle,
  describeIfE2E,
  must,
  makeBusyboxBase,
  makeTempDir,
  type PodmanHandle,
  removeTempDir,
  skopeo,
  startContainerd,
  startDockerd,
  startTdfsServer,
  type TdfsServer,
  umoci,
} from "./support/index.ts";

// 6 MiB of text: compressible (so gzip), and a tar of three 2 MiB chunks, hence three members.
const TEXT = Array.from({ length: 150_000 }, (_, i) => `line ${i} of a large config: ${(i * 2654435761) % 1000003}\n`).join("");
const SUM = new Bun.CryptoHasher("sha256").update(TEXT).digest("hex");

describeIfE2E("multi-member gzip layers with real clients (e2e)", ["docker", "dockerd", "containerd", "ctr", "podman", "skopeo", "umoci", "busybox"], () => {
  let dir: string;
  let server: TdfsServer;
  let dockerd: DockerdHandle;
  let containerd: ContainerdHandle;
  let podman: PodmanHandle;
  const ref = () => `${server.host}/gz/big:v1`;
  const check = "sha256sum /data/big.txt | cut -d' ' -f1";

  beforeAll(async () => {
    dir = await makeTempDir("2dfs-e2e-gzip-");
    [server, dockerd, containerd, podman] = await Promise.all([startTdfsServer(), startDockerd(), startContainerd(), createPodman()]);
    const base = await makeBusyboxBase(join(dir, "base"));
    await writeTree(dir, {
      "ctx/big.txt": TEXT,
      "ctx/2dfs.json": JSON.stringify({ allotments: [{ src: "big.txt", dst: "/data/big.txt", row: 0, col: 0 }] }),
    });
    const store = join(dir, "store");
    await must("2dfs build", run2dfs(["build", "-t", "gz/big:v1", "-f", join(dir, "ctx", "2dfs.json"), "--base", `oci:${base.layoutDir}:${base.tag}`, "--compression", "gzip", "--quiet", "--store", store]));
    await must("2dfs push", run2dfs(["push", "gz/big:v1", ref(), "--quiet", "--store", store]));
  });
  afterAll(async () => {
    await Promise.allSettled([server?.stop(), dockerd?.stop(), containerd?.stop(), podman?.stop()]);
    await removeTempDir(dir);
  });

  test("the layer really holds several gzip members", async () => {
    const manifest = (await (await fetch(`http://${server.host}/v2/gz/big/manifests/v1`, { headers: { Accept: "application/vnd.oci.image.manifest.v1+json" } })).json()) as { layers: { digest: string; mediaType: string }[] };
    const layer = manifest.layers.at(-1)!;
    expect(layer.mediaType).toBe("application/vnd.oci.image.layer.v1.tar+gzip");
    const bytes = new Uint8Array(await (await fetch(`http://${server.host}/v2/gz/big/blobs/${layer.digest}`)).arrayBuffer());
    // Each member starts with the gzip magic, deflate, no flags, and libdeflate's header bytes.
    let members = 0;
    for (let i = 0; i + 3 < bytes.length; i++) if (bytes[i] === 0x1f && bytes[i + 1] === 0x8b && bytes[i + 2] === 8 && bytes[i + 3] === 0) members++;
    expect(members).toBeGreaterThanOrEqual(3);
    // Four magic bytes could also occur inside deflate data: find the members by their structure.
    // Every member but the last holds one 2 MiB tar chunk, so it ends in ISIZE = 2 MiB, and the
    // next member starts right after; each then decompresses alone to exactly its chunk.
    const chunk = 2 << 20;
    const isize = [0, 0, 0x20, 0]; // 2 MiB, little-endian
    const starts = [0];
    for (let i = 4; i + 3 < bytes.length; i++) {
      const magic = bytes[i] === 0x1f && bytes[i + 1] === 0x8b && bytes[i + 2] === 8 && bytes[i + 3] === 0;
      if (magic && isize.every((b, k) => bytes[i - 4 + k] === b)) starts.push(i);
    }
    const sizes = starts.map((start, k) => gunzipSync(bytes.subarray(start, starts[k + 1] ?? bytes.length)).byteLength);
    expect(sizes.length).toBeGreaterThanOrEqual(3);
    expect(sizes.slice(0, -1)).toEqual(sizes.slice(0, -1).map(() => chunk));
    expect(sizes.at(-1)!).toBeGreaterThan(0);
    expect(sizes.at(-1)!).toBeLessThanOrEqual(chunk);
    // node:zlib reads every member (Bun.gunzipSync stops after the first).
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(gunzipSync(bytes).byteLength);
  });

  test("docker, ctr and podman pull it and read the whole file", async () => {
    await must("docker pull", dockerd.docker(["pull", ref()]));
    expect((await must("docker run", dockerd.docker(["run", "--rm", "--network", "none", ref(), "sh", "-c", check]))).trim()).toBe(SUM);
    await must("ctr pull", containerd.ctr(["images", "pull", "--plain-http", ref()]));
    expect((await must("ctr run", containerd.ctr(["run", "--rm", ref(), `gz${Date.now()}`, "sh", "-c", check]))).trim()).toBe(SUM);
    await must("podman pull", podman.podman(["pull", "--tls-verify=false", ref()]));
    expect((await must("podman run", podman.podman(["run", "--rm", "--network", "none", ref(), "sh", "-c", check]))).trim()).toBe(SUM);
  });

  test("2dfs pull extracts the whole file", async () => {
    const out = join(dir, "pulled");
    await must("2dfs pull", run2dfs(["pull", `${ref()}--0.0.0.0`, "-o", out, "--quiet", "--store", join(dir, "pull-store")]));
    const file = await Bun.file(join(out, "data", "big.txt")).text();
    expect(new Bun.CryptoHasher("sha256").update(file).digest("hex")).toBe(SUM);
  });

  test("skopeo copies it to a layout and umoci unpacks the whole file", async () => {
    const layout = join(dir, "layout");
    await must("skopeo copy", skopeo(["copy", "--src-tls-verify=false", `docker://${ref()}`, `oci:${layout}:v1`]));
    await must("umoci unpack", umoci(["unpack", "--rootless", "--image", `${layout}:v1`, join(dir, "bundle")]));
    const file = await Bun.file(join(dir, "bundle", "rootfs", "data", "big.txt")).text();
    expect(new Bun.CryptoHasher("sha256").update(file).digest("hex")).toBe(SUM);
  });
});
