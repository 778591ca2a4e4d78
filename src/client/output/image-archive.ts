/**
 * Writes an image plan as a tar that `docker load` and `podman load` accept: Docker's format
 * (manifest.json, repositories, config and layer blobs) or an OCI layout (oci-layout,
 * index.json, blobs/). Blobs are copied from the store by the kernel into a temp file, renamed when complete.
 *
 * Docker's format has no media types: `docker load` guesses each layer's compression, and before
 * Docker 23 it knows no zstd. So, as `docker save` does, zstd layers go into that format as plain
 * tars, named by their diff_id (which the config already lists). gzip layers stay as they are.
 */
import { closeSync, fstatSync, openSync } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { createDecompressor } from "../../archive/compress.ts";
import { dirname, join, resolve } from "node:path";
import { TAR_END, tarHeader, tarPadding } from "../../archive/tar-header.ts";
import type { LayoutStore } from "../../content/layout-store.ts";
import { Annotation } from "../../oci/annotations.ts";
import type { Descriptor } from "../../oci/descriptor.ts";
import { type Digest, digestHex } from "../../oci/digest.ts";
import { MediaType, layerCompressionOf } from "../../oci/media-types.ts";
import { createNativeSha256, sha256Bytes } from "../../hash/sha256.ts";
import { type ImagePlan, layerDiffIds } from "../planning/image-plan.ts";
import { copyAll, writeFully } from "../../util/copy-file-range.ts";

/** Which tar layout to write. */
export type ArchiveFormat = "docker" | "oci";

type Member = { path: string; bytes: Uint8Array } | { path: string; file: string; size: number };

/** Writes `plan` to `file` named `repoTag` (e.g. `127.0.0.1:5000/model:v1--0.0.1.1`). */
export async function writeImageArchive(file: string, store: LayoutStore, plan: ImagePlan, repoTag: string, format: ArchiveFormat): Promise<void> {
  const temps: string[] = [];
  try {
    const layers = format === "docker" ? await plainZstdLayers(file, store, plan, temps) : [...plan.baseLayers, ...plan.allotments];
    await writeArchive(file, store, plan, layers, repoTag, format);
  } finally {
    for (const t of temps) await rm(t, { force: true });
  }
}

/** A layer the archive takes from a file other than the store's blob (a zstd layer decompressed). */
type ArchiveLayer = Descriptor & { file?: string };

/** The plan's layers, with each zstd layer decompressed beside `file` into a plain tar named by its diff_id. */
async function plainZstdLayers(file: string, store: LayoutStore, plan: ImagePlan, temps: string[]): Promise<ArchiveLayer[]> {
  const diffIds = layerDiffIds(plan);
  const layers: ArchiveLayer[] = [...plan.baseLayers, ...plan.allotments];
  return Promise.all(
    layers.map(async (layer) => {
      if (layerCompressionOf(layer.mediaType) !== "zstd") return layer;
      const tmp = join(dirname(resolve(file)), `.${crypto.randomUUID()}.layer.tmp`);
      temps.push(tmp);
      const { digest, size } = await decompressTo(store.blobPath(layer.digest), tmp);
      const diffId = diffIds.get(layer.digest);
      if (digest !== diffId) throw new Error(`layer ${layer.digest}: decompressed it hashes to ${digest}, but the config's diff_id for it is ${diffId ?? "missing"}`);
      return { mediaType: MediaType.ociLayer, digest, size, file: tmp };
    }),
  );
}

/** Decompresses the zstd blob `src` into `out`, hashing the plain bytes on the way. */
async function decompressTo(src: string, out: string): Promise<{ digest: Digest; size: number }> {
  const hasher = createNativeSha256();
  const writer = Bun.file(out).writer({ highWaterMark: 1 << 20 });
  let size = 0;
  try {
    for await (const chunk of createDecompressor("zstd")(Bun.file(src).stream())) {
      hasher.update(chunk);
      size += chunk.byteLength;
      writer.write(chunk);
    }
  } finally {
    await writer.end();
  }
  return { digest: hasher.digest(), size };
}

async function writeArchive(file: string, store: LayoutStore, plan: ImagePlan, layers: ArchiveLayer[], repoTag: string, format: ArchiveFormat): Promise<void> {
  const blobMember = (d: ArchiveLayer): Member => ({ path: `blobs/sha256/${digestHex(d.digest)}`, file: d.file ?? store.blobPath(d.digest), size: d.size });
  const configDigest = sha256Bytes(plan.configBytes);
  const members: Member[] = [
    { path: "blobs/", bytes: new Uint8Array() },
    { path: "blobs/sha256/", bytes: new Uint8Array() },
    { path: `blobs/sha256/${digestHex(configDigest)}`, bytes: plan.configBytes },
  ];
  const seen = new Set<Digest>([configDigest]);
  for (const l of layers) {
    if (seen.has(l.digest)) continue;
    seen.add(l.digest);
    members.push(blobMember(l));
  }
  const json = (doc: unknown) => new TextEncoder().encode(JSON.stringify(doc));
  if (format === "docker") {
    const colon = repoTag.lastIndexOf(":");
    const [repo, tag] = colon > repoTag.lastIndexOf("/") ? [repoTag.slice(0, colon), repoTag.slice(colon + 1)] : [repoTag, "latest"];
    const last = layers[layers.length - 1];
    members.push({
      path: "manifest.json",
      bytes: json([{ Config: `blobs/sha256/${digestHex(configDigest)}`, RepoTags: [`${repo}:${tag}`], Layers: layers.map((l) => `blobs/sha256/${digestHex(l.digest)}`) }]),
    });
    if (last) members.push({ path: "repositories", bytes: json({ [repo]: { [tag]: digestHex(last.digest) } }) });
  } else {
    const manifestDigest = sha256Bytes(plan.manifestBytes);
    members.push({ path: `blobs/sha256/${digestHex(manifestDigest)}`, bytes: plan.manifestBytes });
    const tag = repoTag.slice(repoTag.lastIndexOf(":") + 1);
    const index = {
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [
        {
          mediaType: plan.manifest.mediaType ?? MediaType.ociManifest,
          digest: manifestDigest,
          size: plan.manifestBytes.byteLength,
          platform: plan.platform,
          // containerd and Docker read the full name; podman and skopeo the short tag.
          annotations: { [Annotation.refName]: tag, "io.containerd.image.name": repoTag },
        },
      ],
    };
    members.push({ path: "oci-layout", bytes: json({ imageLayoutVersion: "1.0.0" }) }, { path: "index.json", bytes: json(index) });
  }
  await writeTar(file, members);
}

/** Writes the members as a tar, beside `file` first and renamed into place when complete; blob members are copied by the kernel. */
async function writeTar(file: string, members: Member[]): Promise<void> {
  const target = resolve(file);
  const tmp = join(dirname(target), `.${crypto.randomUUID()}.tar.tmp`);
  try {
    const out = openSync(tmp, "w");
    try {
      for (const m of members) {
        const isDir = m.path.endsWith("/");
        const size = "bytes" in m ? m.bytes.byteLength : m.size;
        writeFully(out, tarHeader({ path: m.path, type: isDir ? "dir" : "file", mode: isDir ? 0o755 : 0o644, size }));
        if ("bytes" in m) writeFully(out, m.bytes);
        else await appendBlob(out, m.file, size);
        writeFully(out, tarPadding(size));
      }
      writeFully(out, TAR_END);
    } finally {
      closeSync(out);
    }
    await rename(tmp, target);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

async function appendBlob(out: number, file: string, size: number): Promise<void> {
  const src = openSync(file, "r");
  try {
    const actual = fstatSync(src).size;
    if (actual !== size) throw new Error(`blob ${file} has ${actual} bytes, its descriptor says ${size}`);
    const copied = await copyAll(src, out, size);
    if (copied !== size) throw new Error(`blob ${file} has ${copied} bytes, its descriptor says ${size}`);
  } finally {
    closeSync(src);
  }
}
