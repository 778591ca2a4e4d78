/** Proves the e2e support helpers: the busybox fixture, and real docker, containerd, podman, skopeo, umoci, distribution. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { readFile, readlink, stat } from "node:fs/promises";
import { join } from "node:path";
import {
  createPodman,
  describeIfE2E,
  freePort,
  hasTool,
  makeBusyboxBase,
  makeTempDir,
  removeTempDir,
  run,
  runOk,
  skopeo,
  startContainerd,
  startDistribution,
  startDockerd,
  umoci,
  type BusyboxBase,
  type DistributionHandle,
} from "./support/index.ts";
import { spawnDaemon, stopDaemon, waitForDaemon } from "./support/daemon.ts";

test("run captures output and exit code, and kills on timeout", async () => {
  const ok = await run("/bin/sh", ["-c", "echo out; echo err >&2; exit 3"]);
  expect(ok).toEqual({ code: 3, stdout: "out\n", stderr: "err\n" });
  const fed = await run("/bin/cat", [], { input: "piped" });
  expect(fed.stdout).toBe("piped");
  const started = Date.now();
  await expect(run("/bin/sleep", ["10"], { timeoutMs: 200 })).rejects.toThrow(/timed out/);
  expect(Date.now() - started).toBeLessThan(5_000);
  await expect(runOk("/bin/sh", ["-c", "echo boom >&2; exit 1"])).rejects.toThrow(/boom/);
});

test("freePort returns a port nobody listens on", async () => {
  const port = await freePort();
  expect(port).toBeGreaterThan(0);
  // Connection refused proves it is free.
  await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
});

test("hasTool finds installed tools only", () => {
  expect(hasTool("sh")).toBe(true);
  expect(hasTool("no-such-tool-2dfs")).toBe(false);
});

test("waitForDaemon fails fast with the log tail when the daemon dies", async () => {
  const dir = await makeTempDir("unit");
  try {
    const log = join(dir, "fake.log");
    const dead = spawnDaemon("fake", "/bin/sh", ["-c", "echo broken config >&2; exit 2"], log);
    await expect(waitForDaemon(dead, async () => false, 10_000)).rejects.toThrow(/fake exited \(2\)[\s\S]*broken config/);
    const stuck = spawnDaemon("stuck", "/bin/sh", ["-c", "echo still starting; exec sleep 30"], log);
    await expect(waitForDaemon(stuck, async () => false, 300)).rejects.toThrow(/stuck not ready after 300 ms[\s\S]*still starting/);
    await stopDaemon(stuck, 1_000);
    expect(stuck.proc.signalCode ?? stuck.proc.exitCode).not.toBeNull();
  } finally {
    await removeTempDir(dir);
  }
});

test("removeTempDir deletes the directory", async () => {
  const dir = await makeTempDir("unit");
  await Bun.write(join(dir, "a/b.txt"), "x");
  await removeTempDir(dir);
  expect(existsSync(dir)).toBe(false);
});

describeIfE2E("busybox base fixture", ["skopeo", "umoci", "busybox"], () => {
  let dir = "";
  beforeAll(async () => {
    dir = await makeTempDir("bbfix");
  });
  afterAll(async () => {
    if (dir) await removeTempDir(dir);
  });

  test("is a valid single-platform OCI layout that skopeo and umoci read", async () => {
    const base = await makeBusyboxBase(join(dir, "one"));
    expect(base.tag).toBe("latest");
    const inspect = await runOk("skopeo", ["inspect", `oci:${base.layoutDir}:${base.tag}`]);
    const info = JSON.parse(inspect.stdout) as { Architecture: string; Os: string; Layers: string[] };
    expect(info.Architecture).toBe("amd64");
    expect(info.Os).toBe("linux");
    expect(info.Layers).toEqual([base.layers.base.digest, base.layers.arch.amd64?.digest ?? "missing"]);

    const config = JSON.parse(await readFile(blobPath(base, base.platforms[0]?.config.digest), "utf8")) as {
      config: { Cmd: string[] };
    };
    expect(config.config.Cmd).toEqual(["/bin/sh"]);

    const unpacked = join(dir, "unpacked");
    await runOkWith(umoci, ["unpack", "--rootless", "--image", `${base.layoutDir}:${base.tag}`, unpacked]);
    const rootfs = join(unpacked, "rootfs");
    expect(await readlink(join(rootfs, "bin/sh"))).toBe("busybox");
    expect((await stat(join(rootfs, "tmp"))).mode & 0o7777).toBe(0o1777);
    expect(await readFile(join(rootfs, "etc/arch"), "utf8")).toBe("amd64\n");
    const busybox = await readFile(join(rootfs, "bin/busybox"));
    expect(sha256(busybox)).toBe(sha256(await readFile("/bin/busybox")));
    const echoed = await run(join(rootfs, "bin/sh"), ["-c", "echo hello from busybox"]);
    expect(echoed.stdout).toBe("hello from busybox\n");
  }, 30_000);

  test("is deterministic: same bytes in two directories", async () => {
    const a = await makeBusyboxBase(join(dir, "a"), { platforms: ["amd64", "arm64"] });
    const b = await makeBusyboxBase(join(dir, "b"), { platforms: ["amd64", "arm64"] });
    expect(await readFile(join(a.layoutDir, "index.json"), "utf8")).toBe(await readFile(join(b.layoutDir, "index.json"), "utf8"));
    expect(readdirSync(join(a.layoutDir, "blobs/sha256")).sort()).toEqual(readdirSync(join(b.layoutDir, "blobs/sha256")).sort());
    // Every blob's name is the sha256 of its bytes.
    for (const name of readdirSync(join(a.layoutDir, "blobs/sha256"))) {
      expect(sha256(await readFile(join(a.layoutDir, "blobs/sha256", name)))).toBe(name);
    }
  }, 30_000);

  test("two-platform index: separate configs, shared busybox layer, own /etc/arch", async () => {
    const base = await makeBusyboxBase(join(dir, "two"), { platforms: ["amd64", "arm64"] });
    const raw = await runOk("skopeo", ["inspect", "--raw", `oci:${base.layoutDir}:${base.tag}`]);
    const index = JSON.parse(raw.stdout) as { mediaType: string; manifests: { platform: { architecture: string } }[] };
    expect(index.mediaType).toBe("application/vnd.oci.image.index.v1+json");
    expect(index.manifests.map((m) => m.platform.architecture)).toEqual(["amd64", "arm64"]);
    const [amd, arm] = base.platforms;
    expect(amd?.config.digest).not.toBe(arm?.config.digest);
    const armConfig = JSON.parse(await readFile(blobPath(base, arm?.config.digest), "utf8")) as {
      architecture: string;
      rootfs: { diff_ids: string[] };
    };
    expect(armConfig.architecture).toBe("arm64");
    const armManifest = JSON.parse(await readFile(blobPath(base, arm?.manifest.digest), "utf8")) as {
      layers: { digest: string }[];
    };
    expect(armManifest.layers[0]?.digest).toBe(base.layers.base.digest);
    expect(armManifest.layers[1]?.digest).toBe(base.layers.arch.arm64?.digest ?? "missing");
    expect(base.layers.arch.arm64?.digest).not.toBe(base.layers.arch.amd64?.digest);
  }, 30_000);
});

describeIfE2E(
  "real clients pull and run the busybox base from a distribution registry",
  ["docker", "dockerd", "containerd", "ctr", "podman", "skopeo", "docker-registry", "runc"],
  () => {
    const cleanups: (() => Promise<void>)[] = [];
    let dir = "";
    let base: BusyboxBase;
    let registry: DistributionHandle;
    let image = "";

    beforeAll(async () => {
      dir = await makeTempDir("clients");
      cleanups.push(() => removeTempDir(dir));
      base = await makeBusyboxBase(dir, { platforms: ["amd64", "arm64"] });
      registry = await startDistribution();
      cleanups.push(registry.stop);
      image = `${registry.url}/busybox:latest`;
      await runOk("skopeo", ["copy", "--all", "--dest-tls-verify=false", `oci:${base.layoutDir}:${base.tag}`, `docker://${image}`]);
    }, 60_000);

    afterAll(async () => {
      // Reverse order, and every cleanup runs even if an earlier one fails.
      for (const cleanup of cleanups.reverse()) await cleanup().catch((err) => console.warn(`cleanup failed: ${err}`));
    }, 60_000);

    test("the registry serves the pushed index with both platforms, and deletes manifests", async () => {
      const raw = await runOk("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${image}`]);
      const index = JSON.parse(raw.stdout) as { manifests: { digest: string }[] };
      expect(index.manifests.map((m) => m.digest)).toEqual(base.platforms.map((p) => p.manifest.digest));
      // Delete is enabled: a scratch copy's manifest can be removed (202), after which it is gone.
      const scratch = `${registry.url}/scratch:latest`;
      await runOk("skopeo", ["copy", "--dest-tls-verify=false", `oci:${base.layoutDir}:${base.tag}`, `docker://${scratch}`]);
      const manifestUrl = `http://${registry.url}/v2/scratch/manifests/${base.platforms[0]?.manifest.digest}`;
      // distribution 2.8 answers 404 for an OCI manifest unless the client says it accepts one.
      const accept = { Accept: "application/vnd.oci.image.manifest.v1+json" };
      expect((await fetch(manifestUrl, { method: "HEAD", headers: accept })).status).toBe(200);
      expect((await fetch(manifestUrl, { method: "DELETE" })).status).toBe(202);
      expect((await fetch(manifestUrl, { method: "HEAD", headers: accept })).status).toBe(404);
    }, 60_000);

    test("docker pulls and runs it, and loads a docker-archive", async () => {
      const dockerd = await startDockerd();
      cleanups.push(dockerd.stop);
      await expectOk(dockerd.docker(["pull", "-q", image]));
      const ran = await dockerd.docker(["run", "--rm", "--network", "none", image, "/bin/sh", "-c", "cat /etc/arch; echo ran in docker"]);
      expect(ran.stderr).toBe("");
      expect(ran.stdout).toBe("amd64\nran in docker\n");

      const archive = join(dir, "busybox-docker.tar");
      const single = await makeBusyboxBase(join(dir, "single"));
      await runOk("skopeo", ["copy", `oci:${single.layoutDir}:latest`, `docker-archive:${archive}:loaded/busybox:latest`]);
      await expectOk(dockerd.docker(["load", "-i", archive]));
      const loaded = await dockerd.docker(["run", "--rm", "--network", "none", "loaded/busybox:latest", "ls", "/bin/busybox"]);
      expect(loaded.stdout).toBe("/bin/busybox\n");
    }, 120_000);

    test("containerd pulls over plain HTTP and ctr runs it", async () => {
      const containerd = await startContainerd();
      cleanups.push(containerd.stop);
      await expectOk(containerd.ctr(["images", "pull", "--plain-http", image]));
      const ran = await containerd.ctr(["run", "--rm", image, `t${process.pid}`, "/bin/cat", "/etc/arch"]);
      expect(ran.code).toBe(0);
      expect(ran.stdout).toBe("amd64\n");
    }, 120_000);

    test("podman pulls (flag or registries.conf.d) and runs it without network", async () => {
      const podman = await createPodman();
      cleanups.push(podman.stop);
      await expectOk(podman.podman(["pull", "-q", "--tls-verify=false", image]));
      // Without the flag, registries.conf.d/50-2dfs-local.conf (.ci/install-deps.sh) must mark every 127.0.0.1 port insecure.
      const byConfig = await podman.podman(["pull", "-q", image]);
      if (byConfig.code !== 0) throw new Error(`podman pull without --tls-verify=false failed; run .ci/install-deps.sh\n${byConfig.stderr}`);
      const ran = await podman.podman(["run", "--rm", "--network", "none", image, "/bin/cat", "/etc/arch"]);
      expect(ran.stderr).toBe("");
      expect(ran.stdout).toBe("amd64\n");
    }, 120_000);
  },
);

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function blobPath(base: BusyboxBase, digest: string | undefined): string {
  if (digest === undefined) throw new Error("missing digest");
  return join(base.layoutDir, "blobs", "sha256", digest.slice("sha256:".length));
}

async function expectOk(pending: Promise<{ code: number; stdout: string; stderr: string }>): Promise<void> {
  const result = await pending;
  if (result.code !== 0) throw new Error(`exit ${result.code}: ${result.stderr}`);
}

async function runOkWith(
  fn: (args: readonly string[]) => Promise<{ code: number; stderr: string }>,
  args: readonly string[],
): Promise<void> {
  const result = await fn(args);
  if (result.code !== 0) throw new Error(`exit ${result.code}: ${result.stderr}`);
}
