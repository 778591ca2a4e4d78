/**
 * Fields that pass through copy tools and several repositories (issue 12, items 1-4), each with
 * the real tool: one partition pulled from two repositories by docker, ctr and podman; `skopeo
 * copy` of a default (`--compression auto`) build, whose recompressed first allotment loses its
 * annotations; `docker push` of a pulled field, which writes Docker schema 2 with no annotations.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { run2dfs } from "../support/cli.ts";
import { seededBytes, writeTree } from "../support/temp.ts";
import {
  CELLS_2X2,
  type ContainerdHandle,
  createPodman,
  type DistributionHandle,
  type DockerdHandle,
  describeIfE2E,
  fieldContext,
  fieldFile,
  must,
  makeBusyboxBase,
  makeTempDir,
  type PodmanHandle,
  removeTempDir,
  skopeo,
  startContainerd,
  startDistribution,
  startDockerd,
  startTdfsServer,
  type TdfsServer,
} from "./support/index.ts";

// A 2 x 2 field. (0,0) holds 256 KiB of random bytes (stored uncompressed by `auto`, so skopeo
// gzips it and drops its annotations); the others hold text, stored gzipped (skopeo keeps them).
const CELLS = CELLS_2X2;
const fileOf = (r: number, c: number) => fieldFile(r, c, "bin");
const contentOf = (r: number, c: number): Uint8Array =>
  r === 0 && c === 0 ? seededBytes(256 * 1024, 7) : new TextEncoder().encode(`cell r${r}-c${c}\n`.repeat(4000));
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
// What `sha256sum FILE...` prints for these cells, in path order.
const byPath = (a: string, b: string) => (a.slice(66) < b.slice(66) ? -1 : a.slice(66) > b.slice(66) ? 1 : 0);
const sumsOf = (cells: readonly (readonly [number, number])[]) =>
  [...cells].map(([r, c]) => `${sha(contentOf(r, c))}  ${fileOf(r, c)}`).sort(byPath);
const SUMS = "sha256sum $(find /field -type f | sort)";

interface Manifest {
  mediaType?: string;
  config: { mediaType: string; digest: string };
  layers: { mediaType: string; digest: string; annotations?: Record<string, string> }[];
  annotations?: Record<string, string>;
}

describeIfE2E("fields through copy tools and several repositories (e2e)", ["docker", "dockerd", "containerd", "ctr", "podman", "skopeo", "docker-registry", "busybox"], () => {
  let dir: string;
  let server: TdfsServer;
  let registry: DistributionHandle;
  let dockerd: DockerdHandle;
  let containerd: ContainerdHandle;
  let podman: PodmanHandle;
  const store = () => join(dir, "store");
  const repo = (name: string) => `${server.host}/${name}`;

  const ok2dfs = (args: string[]) => must(`2dfs ${args.join(" ")}`, run2dfs([...args, "--store", store()]));
  const manifestOf = async (host: string, name: string, ref: string): Promise<Manifest> => {
    const accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
    const r = await fetch(`http://${host}/v2/${name}/manifests/${ref}`, { headers: { Accept: accept } });
    if (r.status !== 200) throw new Error(`GET ${name}:${ref}: ${r.status} ${await r.text()}`);
    return (await r.json()) as Manifest;
  };
  const dockerSums = async (ref: string) => {
    await must(`docker pull ${ref}`, dockerd.docker(["pull", ref]));
    const out = await must(`docker run ${ref}`, dockerd.docker(["run", "--rm", "--network", "none", ref, "sh", "-c", SUMS]));
    return out.trim().split("\n").filter(Boolean);
  };
  // `2dfs pull -o DIR` (files): every file it wrote under /field, as sha256sum would print them.
  const pulledSums = async (ref: string, out: string) => {
    await ok2dfs(["pull", ref, "-o", out, "--quiet"]);
    const sums: string[] = [];
    for (const name of await readdir(join(out, "field"))) sums.push(`${sha(new Uint8Array(await readFile(join(out, "field", name))))}  /field/${name}`);
    return sums.sort(byPath);
  };

  beforeAll(async () => {
    dir = await makeTempDir("2dfs-e2e-copy-");
    [server, registry, dockerd, containerd, podman] = await Promise.all([
      startTdfsServer(),
      startDistribution(),
      startDockerd(),
      startContainerd(),
      createPodman(),
    ]);
    const base = await makeBusyboxBase(join(dir, "base"));
    await writeTree(dir, fieldContext(CELLS, contentOf, "bin"));
    // Default compression (auto): (0,0) uncompressed, the rest gzip.
    await ok2dfs(["build", "-t", "field:v1", "-f", join(dir, "ctx", "2dfs.json"), "--base", `oci:${base.layoutDir}:${base.tag}`, "--quiet"]);
    // `skopeo copy` with no compression flags. The first copy to this server uploads every blob
    // (gzipping the uncompressed one, whose annotations it drops, keeping the others'); later
    // copies of known blobs drop every layer's annotations. Only the manifest's survive.
    for (const name of ["sk/f", "a/x", "b/x", "src/f"]) {
      await must(`skopeo copy to ${name}`, skopeo(["copy", "--dest-tls-verify=false", `oci:${store()}:field:v1`, `docker://${repo(`${name}:v1`)}`]));
    }
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled([server?.stop(), registry?.stop(), dockerd?.stop(), containerd?.stop(), podman?.stop()]);
    await removeTempDir(dir);
  });

  test("item 1: one partition from two repositories, pulled, removed and pulled again by docker, ctr and podman", async () => {
    const a = (suffix: string) => repo(`a/x:v1--${suffix}`);
    const b = (suffix: string) => repo(`b/x:v1--${suffix}`);

    // docker: a, b, rmi both, a again (the pull that answered `unknown blob`), b again.
    expect(await dockerSums(a("0.0.0.1"))).toEqual(sumsOf([[0, 0], [0, 1]]));
    expect(await dockerSums(b("0.0.0.1"))).toEqual(sumsOf([[0, 0], [0, 1]]));
    await must("docker rmi", dockerd.docker(["rmi", a("0.0.0.1"), b("0.0.0.1")]));
    expect(await dockerSums(a("0.0.0.1"))).toEqual(sumsOf([[0, 0], [0, 1]]));
    expect(await dockerSums(b("0.0.0.1"))).toEqual(sumsOf([[0, 0], [0, 1]]));

    // containerd: the same with a partition of its own (so no earlier pull warmed anything).
    const ctrPull = (ref: string) => must(`ctr pull ${ref}`, containerd.ctr(["images", "pull", "--plain-http", ref]));
    await ctrPull(a("0.0.1.0"));
    await ctrPull(b("0.0.1.0"));
    await must("ctr rm", containerd.ctr(["images", "rm", "--sync", a("0.0.1.0"), b("0.0.1.0")]));
    await ctrPull(a("0.0.1.0"));
    await ctrPull(b("0.0.1.0"));
    const ctrOut = await must("ctr run", containerd.ctr(["run", "--rm", a("0.0.1.0"), `t${Date.now()}`, "sh", "-c", SUMS]));
    expect(ctrOut.trim().split("\n")).toEqual(sumsOf([[0, 0], [1, 0]]));

    // podman.
    const podmanPull = (ref: string) => must(`podman pull ${ref}`, podman.podman(["pull", "--tls-verify=false", ref]));
    await podmanPull(a("1.0.1.1"));
    await podmanPull(b("1.0.1.1"));
    await must("podman rmi", podman.podman(["rmi", a("1.0.1.1"), b("1.0.1.1")]));
    await podmanPull(a("1.0.1.1"));
    await podmanPull(b("1.0.1.1"));
    const podmanOut = await must("podman run", podman.podman(["run", "--rm", "--network", "none", a("1.0.1.1"), "sh", "-c", SUMS]));
    expect(podmanOut.trim().split("\n")).toEqual(sumsOf([[1, 0], [1, 1]]));
  }, 300_000);

  test("items 2 and 3: skopeo copy of an auto build; partitions by docker and 2dfs pull hold exactly their files", async () => {
    // The first copy is the case at issue: the first allotment was gzipped and lost its
    // annotations, the others kept theirs.
    const copied = await manifestOf(server.host, "sk/f", "v1");
    const allotments = copied.layers.slice(-4);
    expect(allotments[0]!.annotations).toBeUndefined();
    expect(allotments[0]!.mediaType).toBe("application/vnd.oci.image.layer.v1.tar+gzip");
    expect(allotments.slice(1).map((l) => l.annotations?.["io.2dfs.allotment.row"])).toEqual(["0", "1", "1"]);
    expect(copied.annotations?.["io.2dfs.field.cells"]).toBe("0.0 0.1 1.0 1.1");

    expect(await dockerSums(repo("sk/f:v1--1.1.1.1"))).toEqual(sumsOf([[1, 1]]));
    expect(await dockerSums(repo("sk/f:v1--0.0.0.0"))).toEqual(sumsOf([[0, 0]]));
    expect(await dockerSums(repo("sk/f:v1--0.0.0.1"))).toEqual(sumsOf([[0, 0], [0, 1]]));
    expect(await pulledSums(repo("sk/f:v1"), join(dir, "sk-all"))).toEqual(sumsOf(CELLS));
    expect(await pulledSums(repo("sk/f:v1--0.0.0.0"), join(dir, "sk-00"))).toEqual(sumsOf([[0, 0]]));
    expect(await pulledSums(repo("sk/f:v1--1.1.1.1"), join(dir, "sk-11"))).toEqual(sumsOf([[1, 1]]));
  }, 300_000);

  test("item 4: docker push of a docker-pulled field keeps its partitions (2dfs serve and a plain registry)", async () => {
    await must("docker pull", dockerd.docker(["pull", repo("src/f:v1")]));
    const targets = [
      { host: server.host, name: "repushed/f" },
      { host: registry.url, name: "repushed/f" },
    ];
    for (const t of targets) {
      await must("docker tag", dockerd.docker(["tag", repo("src/f:v1"), `${t.host}/${t.name}:v1`]));
      await must("docker push", dockerd.docker(["push", `${t.host}/${t.name}:v1`]));
      // What docker wrote: Docker schema 2, no annotations at all.
      const pushed = await manifestOf(t.host, t.name, "v1");
      expect(pushed.mediaType).toBe("application/vnd.docker.distribution.manifest.v2+json");
      expect(pushed.annotations).toBeUndefined();
      expect(pushed.layers.some((l) => l.annotations)).toBe(false);
    }

    // Through 2dfs serve: the partition is a Docker schema 2 manifest like its source, and runs.
    const partition = await manifestOf(server.host, "repushed/f", "v1--0.1.1.1");
    expect(partition.mediaType).toBe("application/vnd.docker.distribution.manifest.v2+json");
    expect(partition.config.mediaType).toBe("application/vnd.docker.container.image.v1+json");
    expect(new Set(partition.layers.map((l) => l.mediaType))).toEqual(new Set(["application/vnd.docker.image.rootfs.diff.tar.gzip"]));
    expect(partition.annotations).toBeUndefined();
    expect(await dockerSums(repo("repushed/f:v1--0.1.1.1"))).toEqual(sumsOf([[0, 1], [1, 1]]));
    expect(await dockerSums(repo("repushed/f:v1--0.0.0.0"))).toEqual(sumsOf([[0, 0]]));

    // Through 2dfs pull, from 2dfs serve and client-side from the plain registry.
    expect(await pulledSums(repo("repushed/f:v1--1.0.1.0"), join(dir, "re-serve"))).toEqual(sumsOf([[1, 0]]));
    expect(await pulledSums(`${registry.url}/repushed/f:v1--0.0.0.1`, join(dir, "re-dist"))).toEqual(sumsOf([[0, 0], [0, 1]]));
    expect(await pulledSums(`${registry.url}/repushed/f:v1`, join(dir, "re-dist-all"))).toEqual(sumsOf(CELLS));
  }, 300_000);
});
