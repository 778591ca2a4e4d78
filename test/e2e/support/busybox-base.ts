/**
 * A tiny deterministic base image built from Debian's static busybox, written as an OCI image
 * layout with plain node:fs/zlib (never with src/, so e2e tests exercise 2dfs, not themselves).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { toTarBytes, type TarEntry } from "./tar-writer.ts";
import { toSha256Digest, writeBlob, writeJsonBlob, writeLayoutIndex, type FixtureDescriptor } from "./oci-layout-writer.ts";

/** Architectures the fixture can describe; only amd64 actually runs on CI machines. */
export type BusyboxArch = "amd64" | "arm64";

/** Options for {@link makeBusyboxBase}. */
export interface BusyboxBaseOptions {
  /** One platform gives a plain manifest; several give an image index (default ["amd64"]). */
  platforms?: BusyboxArch[];
  /** The ref name in index.json (default "latest"). */
  tag?: string;
  /** Source binary (default /bin/busybox from busybox-static). */
  busyboxPath?: string;
}

/** Where the fixture was written and what it contains. */
export interface BusyboxBase {
  /** The OCI image layout directory: use as `oci:${layoutDir}:${tag}`. */
  layoutDir: string;
  tag: string;
  /** Descriptor that index.json lists under the tag (a manifest, or an index for several platforms). */
  root: FixtureDescriptor;
  /** One entry per platform, in the order asked for. */
  platforms: { architecture: BusyboxArch; manifest: FixtureDescriptor; config: FixtureDescriptor }[];
  /** Digests of the shared busybox layer and of each platform's /etc/arch layer (compressed). */
  layers: { base: FixtureDescriptor; arch: Partial<Record<BusyboxArch, FixtureDescriptor>> };
}

// Literal media types on purpose: the fixture must not depend on src/oci.
const INDEX = "application/vnd.oci.image.index.v1+json";
const MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const CONFIG = "application/vnd.oci.image.config.v1+json";
const LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
const REF_NAME = "org.opencontainers.image.ref.name";
const EPOCH = "1970-01-01T00:00:00Z";

/** Applets linked to /bin/busybox; busybox picks the applet from argv[0]. */
export const BUSYBOX_APPLETS = [
  "sh", "ls", "cat", "find", "echo", "env", "test", "true", "false", "sleep", "mkdir", "rm", "cp", "mv",
  "ln", "touch", "head", "tail", "wc", "grep", "sed", "stat", "du", "sha256sum", "tar", "uname", "id",
] as const;

function toBaseLayerEntries(busybox: Uint8Array): TarEntry[] {
  const enc = new TextEncoder();
  return [
    { type: "dir", path: "bin" },
    { type: "file", path: "bin/busybox", data: busybox, mode: 0o755 },
    ...BUSYBOX_APPLETS.map((applet): TarEntry => ({ type: "symlink", path: `bin/${applet}`, target: "busybox" })),
    { type: "dir", path: "etc" },
    { type: "file", path: "etc/group", data: enc.encode("root:x:0:\n") },
    { type: "file", path: "etc/passwd", data: enc.encode("root:x:0:0:root:/root:/bin/sh\n") },
    { type: "dir", path: "root", mode: 0o700 },
    { type: "dir", path: "tmp", mode: 0o1777 },
  ];
}

/** A gzip layer and the diff_id (digest of the uncompressed tar) its config must list. */
async function writeLayer(layoutDir: string, entries: TarEntry[]): Promise<{ descriptor: FixtureDescriptor; diffId: string }> {
  const tar = toTarBytes(entries);
  const descriptor = await writeBlob(layoutDir, LAYER_GZIP, gzipSync(tar, { level: 6 }));
  return { descriptor, diffId: toSha256Digest(tar) };
}

/**
 * Writes a busybox image layout into `${dir}/busybox-base`: a shared layer with /bin/busybox,
 * applet symlinks, /etc and /tmp, plus a per-platform layer holding /etc/arch (the arch name and
 * a newline) so tests can tell which platform ran. Cmd is ["/bin/sh"]. Same inputs, same digests.
 */
export async function makeBusyboxBase(dir: string, opts: BusyboxBaseOptions = {}): Promise<BusyboxBase> {
  const platforms = opts.platforms ?? ["amd64"];
  if (platforms.length === 0 || new Set(platforms).size !== platforms.length) {
    throw new Error(`makeBusyboxBase: platforms must be non-empty and distinct, got ${JSON.stringify(platforms)}`);
  }
  const tag = opts.tag ?? "latest";
  const layoutDir = join(dir, "busybox-base");
  const busybox = new Uint8Array(await readFile(opts.busyboxPath ?? "/bin/busybox"));
  const base = await writeLayer(layoutDir, toBaseLayerEntries(busybox));
  const result: BusyboxBase["platforms"] = [];
  const archLayers: BusyboxBase["layers"]["arch"] = {};
  for (const architecture of platforms) {
    const arch = await writeLayer(layoutDir, [
      { type: "dir", path: "etc" },
      { type: "file", path: "etc/arch", data: new TextEncoder().encode(`${architecture}\n`) },
    ]);
    archLayers[architecture] = arch.descriptor;
    const config = await writeJsonBlob(layoutDir, CONFIG, {
      created: EPOCH,
      architecture,
      os: "linux",
      config: {
        Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        Cmd: ["/bin/sh"],
      },
      rootfs: { type: "layers", diff_ids: [base.diffId, arch.diffId] },
      history: [
        { created: EPOCH, created_by: "2dfs e2e fixture: busybox-static" },
        { created: EPOCH, created_by: `2dfs e2e fixture: /etc/arch = ${architecture}` },
      ],
    });
    const manifest = await writeJsonBlob(layoutDir, MANIFEST, {
      schemaVersion: 2,
      mediaType: MANIFEST,
      config,
      layers: [base.descriptor, arch.descriptor],
    });
    result.push({ architecture, manifest, config });
  }
  let root: FixtureDescriptor;
  const first = result[0];
  if (result.length === 1 && first !== undefined) {
    root = { ...first.manifest, platform: { architecture: first.architecture, os: "linux" } };
  } else {
    const index = await writeJsonBlob(layoutDir, INDEX, {
      schemaVersion: 2,
      mediaType: INDEX,
      manifests: result.map((p) => ({ ...p.manifest, platform: { architecture: p.architecture, os: "linux" } })),
    });
    root = index;
  }
  root = { ...root, annotations: { [REF_NAME]: tag } };
  await writeLayoutIndex(layoutDir, [root]);
  return { layoutDir, tag, root, platforms: result, layers: { base: base.descriptor, arch: archLayers } };
}
