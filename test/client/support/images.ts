/** Hand-written 2DFS test images (native and reference format), pushed with the client under test. */
import { gzipSync } from "node:zlib";
import { uploadBlob } from "../../../src/client/transport/blob-upload.ts";
import type { RegistryClient } from "../../../src/client/transport/registry-client.ts";
import { hostPlatform } from "../../../src/oci/host-platform.ts";
import { Annotation } from "../../../src/oci/annotations.ts";
import { MediaType } from "../../../src/oci/media-types.ts";
import { type FakeEntry, makeTar, sha256 } from "./layers.ts";

/** A blob with its descriptor fields. */
export interface TestBlob {
  bytes: Uint8Array;
  digest: `sha256:${string}`;
  size: number;
  mediaType: string;
}

/** A built image: every blob, the manifest bytes, and the allotments' files for comparisons. */
export interface TestImage {
  blobs: TestBlob[];
  manifest: Uint8Array;
  manifestDigest: `sha256:${string}`;
  allotments: { row: number; col: number; layer: TestBlob; diffId: string; files: Record<string, string> }[];
}

function blob(bytes: Uint8Array, mediaType: string): TestBlob {
  return { bytes, digest: sha256(bytes), size: bytes.byteLength, mediaType };
}

async function layer(entries: FakeEntry[], gzip: boolean): Promise<{ layer: TestBlob; diffId: string }> {
  const tar = await makeTar(entries);
  const bytes = gzip ? new Uint8Array(gzipSync(tar)) : tar;
  return { layer: blob(bytes, gzip ? MediaType.ociLayerGzip : MediaType.ociLayer), diffId: sha256(tar) };
}

/** The allotment at (row, col) holds `/data/r<row>c<col>.txt` (and a second file for odd columns). */
export function allotmentFiles(row: number, col: number, extra = ""): Record<string, string> {
  const files: Record<string, string> = { [`data/r${row}c${col}.txt`]: `allotment ${row},${col}${extra}\n` };
  if (col % 2 === 1) files[`data/odd/r${row}c${col}.bin`] = `odd ${row} ${col} `.repeat(50);
  return files;
}

/** Builds a rows x cols field image on a one-layer base, in the native or the reference format. */
export async function buildFieldImage(opts: {
  rows: number;
  cols: number;
  format: "native" | "reference";
  gzip?: boolean;
  baseEntries?: FakeEntry[];
  extra?: string;
}): Promise<TestImage> {
  const gzip = opts.gzip ?? true;
  const base = await layer(opts.baseEntries ?? [{ name: "etc/", type: "directory" }, { name: "etc/base.conf", content: "base\n" }], gzip);
  const allotments: TestImage["allotments"] = [];
  for (let r = 0; r < opts.rows; r++) {
    for (let c = 0; c < opts.cols; c++) {
      const files = allotmentFiles(r, c, opts.extra);
      const { layer: l, diffId } = await layer(
        Object.entries(files).map(([name, content]) => ({ name, content })),
        gzip,
      );
      allotments.push({ row: r, col: c, layer: l, diffId, files });
    }
  }
  const platform = hostPlatform();
  const blobs: TestBlob[] = [base.layer, ...allotments.map((a) => a.layer)];
  let config: Record<string, unknown>;
  let layers: Record<string, unknown>[];
  const annotations: Record<string, string> = {};
  if (opts.format === "native") {
    config = {
      architecture: platform.architecture,
      os: platform.os,
      rootfs: { type: "layers", diff_ids: [base.diffId, ...allotments.map((a) => a.diffId)] },
    };
    layers = [
      { mediaType: base.layer.mediaType, digest: base.layer.digest, size: base.layer.size },
      ...allotments.map((a) => ({
        mediaType: a.layer.mediaType,
        digest: a.layer.digest,
        size: a.layer.size,
        annotations: { [Annotation.tdfsRow]: String(a.row), [Annotation.tdfsCol]: String(a.col) },
      })),
    ];
    annotations[Annotation.tdfsVersion] = "1";
  } else {
    config = { architecture: platform.architecture, os: platform.os, rootfs: { type: "layers", diff_ids: [base.diffId] } };
    const rows = Array.from({ length: opts.rows }, (_, r) => {
      const cells = allotments
        .filter((a) => a.row === r)
        .map((a) => ({ row: a.row, col: a.col, digest: a.layer.digest.slice(7), diffid: a.diffId.slice(7) }));
      return { allotments: cells, allotments_size: cells.length };
    });
    const field = blob(new TextEncoder().encode(JSON.stringify({ rows, rows_size: rows.length, owner: "" })), MediaType.tdfsField);
    blobs.push(field);
    layers = [
      { mediaType: base.layer.mediaType, digest: base.layer.digest, size: base.layer.size },
      { mediaType: field.mediaType, digest: field.digest, size: field.size },
    ];
  }
  const configBlob = blob(new TextEncoder().encode(JSON.stringify(config)), MediaType.ociConfig);
  blobs.push(configBlob);
  const manifestDoc = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: configBlob.digest, size: configBlob.size },
    layers,
    ...(Object.keys(annotations).length ? { annotations } : {}),
  };
  const manifest = new TextEncoder().encode(JSON.stringify(manifestDoc));
  return { blobs, manifest, manifestDigest: sha256(manifest), allotments };
}

/** Pushes a built image's blobs and manifest under `repo:tag`. */
export async function pushTestImage(client: RegistryClient, repo: string, tag: string, image: TestImage): Promise<void> {
  for (const b of image.blobs) await uploadBlob(client, repo, b, new Blob([b.bytes]));
  await client.putManifest(repo, tag, image.manifest, MediaType.ociManifest);
}
