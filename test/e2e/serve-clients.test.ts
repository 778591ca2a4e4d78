/**
 * `2dfs serve` against real clients: images built by `2dfs build`, pushed with skopeo (and
 * `2dfs push` for the reference format), pulled whole and as partitions by Docker,
 * containerd, podman and skopeo, and run.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { run2dfs } from "../support/cli.ts";
import { writeTree } from "../support/temp.ts";
import {
  CELLS_2X2,
  type ContainerdHandle,
  createPodman,
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
  startDockerd,
  startTdfsServer,
  type TdfsServer,
  umoci,
} from "./support/index.ts";

// A 2 x 2 field: (r, c) holds /field/rR-cC.txt with the text "rR-cC".
const CELLS = CELLS_2X2;
const fileOf = fieldFile;
const filesOf = (cells: readonly (readonly [number, number])[]) => cells.map(([r, c]) => fileOf(r, c)).sort();

describeIfE2E("2dfs serve with real clients (e2e)", ["docker", "dockerd", "containerd", "ctr", "podman", "skopeo", "umoci", "busybox"], () => {
  let dir: string;
  let server: TdfsServer;
  let dockerd: DockerdHandle;
  let containerd: ContainerdHandle;
  let podman: PodmanHandle;
  const store = () => join(dir, "store");
  const repo = (name: string) => `${server.host}/${name}`;
  const listField = "find /field -type f | sort";

  const ok2dfs = (args: string[]) => must(`2dfs ${args.join(" ")}`, run2dfs([...args, "--store", store()]));

  beforeAll(async () => {
    dir = await makeTempDir("2dfs-e2e-serve-");
    [server, dockerd, containerd, podman] = await Promise.all([startTdfsServer(), startDockerd(), startContainerd(), createPodman()]);
    const single = await makeBusyboxBase(join(dir, "single"));
    const multi = await makeBusyboxBase(join(dir, "multi"), { platforms: ["amd64", "arm64"] });
    await writeTree(dir, fieldContext(CELLS, (r, c) => `r${r}-c${c}\n`));
    const f = join(dir, "ctx", "2dfs.json");
    await ok2dfs(["build", "-t", "model:v1", "-f", f, "--base", `oci:${single.layoutDir}:${single.tag}`, "--quiet"]);
    await ok2dfs(["build", "-t", "ref:v1", "-f", f, "--base", `oci:${single.layoutDir}:${single.tag}`, "--format", "reference", "--quiet"]);
    await ok2dfs(["build", "-t", "multi:v1", "-f", f, "--base", `oci:${multi.layoutDir}:${multi.tag}`, "--quiet"]);
    await must("skopeo push", skopeo(["copy", "--dest-tls-verify=false", `oci:${store()}:model:v1`, `docker://${repo("e2e/model:v1")}`]));
    await must("skopeo push --all", skopeo(["copy", "--all", "--dest-tls-verify=false", `oci:${store()}:multi:v1`, `docker://${repo("e2e/multi:v1")}`]));
    // skopeo copies what manifests reference; the reference format hides allotments in the field blob, so 2dfs push uploads it.
    await ok2dfs(["push", "ref:v1", repo("e2e/ref:v1"), "--quiet"]);
  });

  afterAll(async () => {
    await Promise.allSettled([server?.stop(), dockerd?.stop(), containerd?.stop(), podman?.stop()]);
    await removeTempDir(dir);
  });

  const dockerRun = async (ref: string, cmd: string) => {
    await must(`docker pull ${ref}`, dockerd.docker(["pull", ref]));
    return must(`docker run ${ref}`, dockerd.docker(["run", "--rm", "--network", "none", ref, "sh", "-c", cmd]));
  };

  test("docker pull of the plain tag runs and shows every allotment", async () => {
    expect((await dockerRun(repo("e2e/model:v1"), listField)).trim().split("\n")).toEqual(filesOf(CELLS));
  });

  test("docker pull of a partition runs with exactly the selected allotments on top of the base", async () => {
    const out = await dockerRun(repo("e2e/model:v1--0.0.0.1"), `${listField}; test -x /bin/busybox && echo base-ok`);
    expect(out.trim().split("\n")).toEqual([...filesOf([[0, 0], [0, 1]]), "base-ok"]);
    const col = await dockerRun(repo("e2e/model:v1--0.1.1.1"), `cat ${fileOf(1, 1)}; ${listField}`);
    expect(col.trim().split("\n")).toEqual(["r1-c1", ...filesOf([[0, 1], [1, 1]])]);
  });

  test("containerd: ctr pull + run of a partition", async () => {
    const ref = repo("e2e/model:v1--1.0.1.1");
    await must("ctr pull", containerd.ctr(["images", "pull", "--plain-http", ref]));
    const out = await must("ctr run", containerd.ctr(["run", "--rm", ref, `t${Date.now()}`, "sh", "-c", listField]));
    expect(out.trim().split("\n")).toEqual(filesOf([[1, 0], [1, 1]]));
  });

  test("podman: pull + run of a partition", async () => {
    const ref = repo("e2e/model:v1--0.0.1.0");
    await must("podman pull", podman.podman(["pull", "--tls-verify=false", ref]));
    const out = await must("podman run", podman.podman(["run", "--rm", "--network", "none", ref, "sh", "-c", listField]));
    expect(out.trim().split("\n")).toEqual(filesOf([[0, 0], [1, 0]]));
  });

  test("skopeo copies a partition into an OCI layout that umoci unpacks", async () => {
    const layout = join(dir, "skopeo-part");
    await must("skopeo copy", skopeo(["copy", "--src-tls-verify=false", `docker://${repo("e2e/model:v1--1.1.1.1")}`, `oci:${layout}:p`]));
    await must("umoci unpack", umoci(["unpack", "--rootless", "--image", `${layout}:p`, join(dir, "unpacked")]));
    const out = await must("find", run2dfs(["--version"]).then(async () => {
      const p = Bun.spawn(["find", join(dir, "unpacked", "rootfs", "field"), "-type", "f"], { stdout: "pipe" });
      return { code: await p.exited, stdout: await new Response(p.stdout).text(), stderr: "" };
    }));
    expect(out.trim().split("\n").map((p) => p.slice(p.indexOf("/field/")))).toEqual(filesOf([[1, 1]]));
  });

  test("a two-platform image: a partition pulled on amd64 runs the amd64 base", async () => {
    const out = await dockerRun(repo("e2e/multi:v1--0.0.0.0"), `cat /etc/arch; ${listField}`);
    expect(out.trim().split("\n")).toEqual(["amd64", fileOf(0, 0)]);
  });

  test("a reference-format image is served as partitions the same way", async () => {
    const out = await dockerRun(repo("e2e/ref:v1--0.1.1.1"), listField);
    expect(out.trim().split("\n")).toEqual(filesOf([[0, 1], [1, 1]]));
  });

  test("ordinary images: docker push and pull back by tag and by digest", async () => {
    await must("docker tag", dockerd.docker(["tag", repo("e2e/model:v1"), repo("plain/copy:latest")]));
    const push = await must("docker push", dockerd.docker(["push", repo("plain/copy:latest")]));
    const digest = /digest: (sha256:[0-9a-f]{64})/.exec(push)?.[1];
    expect(digest).toBeDefined();
    await must("docker rmi", dockerd.docker(["rmi", repo("plain/copy:latest")]));
    await must("docker pull by digest", dockerd.docker(["pull", `${repo("plain/copy")}@${digest}`]));
    await must("docker pull by tag", dockerd.docker(["pull", repo("plain/copy:latest")]));
  });

  test("ordinary images: podman push and pull back", async () => {
    await must("podman tag", podman.podman(["tag", repo("e2e/model:v1--0.0.1.0"), repo("plain/podman:v1")]));
    await must("podman push", podman.podman(["push", "--tls-verify=false", repo("plain/podman:v1")]));
    await must("podman rmi", podman.podman(["rmi", repo("plain/podman:v1")]));
    const out = await must("podman run", podman.podman(["run", "--rm", "--tls-verify=false", "--network", "none", repo("plain/podman:v1"), "sh", "-c", listField]));
    expect(out.trim().split("\n")).toEqual(filesOf([[0, 0], [1, 0]]));
  });

  test("2dfs export of a partition loads into docker and runs with its files", async () => {
    const tar = join(dir, "part.tar");
    await ok2dfs(["export", "model:v1--1.0.1.0", "-o", tar]);
    const loaded = await must("docker load", dockerd.docker(["load", "-i", tar]));
    const name = /Loaded image: (\S+)/.exec(loaded)?.[1] ?? /Loaded image ID: (\S+)/.exec(loaded)?.[1];
    expect(name).toBeDefined();
    const out = await must("docker run", dockerd.docker(["run", "--rm", "--network", "none", name!, "sh", "-c", listField]));
    expect(out.trim().split("\n")).toEqual(filesOf([[1, 0]]));
  });
});
