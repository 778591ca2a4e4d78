/** Pushes 2DFS images (native and reference format, single or two-platform) into a test registry. */
import { composeNative } from "../../src/field/native-format.ts";
import { composeReference, toReferenceFieldBytes } from "../../src/field/reference-format.ts";
import type { ImageConfig } from "../../src/oci/config.ts";
import type { Descriptor } from "../../src/oci/descriptor.ts";
import type { ImageManifest } from "../../src/oci/manifest.ts";
import { MediaType } from "../../src/oci/media-types.ts";
import { type TestClient, enc, sha256 } from "./helpers.ts";

const opts = { sha256: (b: Uint8Array) => sha256(b) };

/** Cells of a rows x cols grid. */
export function grid(rows: number, cols: number): { row: number; col: number }[] {
  const out: { row: number; col: number }[] = [];
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out.push({ row: r, col: c });
  return out;
}

async function pushBase(c: TestClient, name: string, arch: string): Promise<{ manifest: ImageManifest; config: ImageConfig; configBytes: Uint8Array }> {
  const baseLayer = `base layer ${arch}`;
  const layerDigest = await c.pushBlob(name, baseLayer);
  const config: ImageConfig = {
    architecture: arch,
    os: "linux",
    "x-opaque": { kept: true },
    rootfs: { type: "layers", diff_ids: [sha256(baseLayer)] },
    history: [{ created_by: "base" }],
  };
  const configBytes = enc(JSON.stringify(config));
  const configDigest = await c.pushBlob(name, configBytes);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: configDigest, size: configBytes.byteLength },
    layers: [{ mediaType: MediaType.ociLayer, digest: layerDigest, size: enc(baseLayer).byteLength }],
  };
  return { manifest, config, configBytes };
}

/** Pushes a native-format image; returns its manifest digest and bytes (not tagged when tag is undefined). */
export async function pushNative(c: TestClient, name: string, tag: string | undefined, cells: { row: number; col: number }[], arch = "amd64") {
  const base = await pushBase(c, name, arch);
  const allotments = [];
  for (const cell of cells) {
    const text = `allotment ${cell.row},${cell.col} ${arch}`;
    const digest = await c.pushBlob(name, text);
    allotments.push({ ...cell, diffId: sha256(text), layer: { mediaType: MediaType.ociLayer, digest, size: enc(text).byteLength } });
  }
  const composed = composeNative(base, allotments, { created: "2025-01-01T00:00:00Z", describe: (a) => `COPY ${a.row},${a.col}`, sha256: opts.sha256 });
  await c.pushBlob(name, composed.configBytes);
  return c.pushManifest(name, tag ?? sha256(composed.manifestBytes), new TextDecoder().decode(composed.manifestBytes));
}

/** Pushes a reference-format image; gzipped allotments on even columns, plain tar-ish bytes on odd ones. */
export async function pushReference(c: TestClient, name: string, tag: string | undefined, cells: { row: number; col: number }[], arch = "amd64") {
  const base = await pushBase(c, name, arch);
  const refCells = [];
  for (const cell of cells) {
    const text = `allotment ${cell.row},${cell.col} ${arch}`;
    const bytes = cell.col % 2 === 0 ? Bun.gzipSync(enc(text)) : enc(text);
    const digest = await c.pushBlob(name, bytes);
    refCells.push({ ...cell, digest, diffId: sha256(text) });
  }
  const fieldBytes = toReferenceFieldBytes(refCells);
  const fieldDigest = await c.pushBlob(name, fieldBytes);
  const field: Descriptor = { mediaType: MediaType.tdfsField, digest: fieldDigest, size: fieldBytes.byteLength };
  const composed = composeReference(base, field, opts);
  return c.pushManifest(name, tag ?? sha256(composed.manifestBytes), new TextDecoder().decode(composed.manifestBytes));
}

/** Pushes a two-platform index (amd64 + arm64) of native or reference images under `tag`. */
export async function pushTwoPlatformIndex(c: TestClient, name: string, tag: string, format: "native" | "reference", cells: { row: number; col: number }[]) {
  const push = format === "native" ? pushNative : pushReference;
  const entries = [];
  for (const arch of ["amd64", "arm64"]) {
    const child = await push(c, name, undefined, cells, arch);
    entries.push({
      mediaType: MediaType.ociManifest,
      digest: child.digest,
      size: child.bytes.byteLength,
      platform: { os: "linux", architecture: arch },
      annotations: { "org.example.arch": arch },
    });
  }
  const index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: entries, annotations: { "org.example.index": "yes" } };
  return c.pushManifest(name, tag, index, MediaType.ociIndex);
}
