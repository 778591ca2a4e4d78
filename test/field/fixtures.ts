/** Small deterministic documents for the field tests. */
import { createHash } from "node:crypto";
import type { ImageConfig } from "../../src/oci/config.ts";
import type { Descriptor } from "../../src/oci/descriptor.ts";
import type { Digest } from "../../src/oci/digest.ts";
import type { ImageManifest } from "../../src/oci/manifest.ts";
import { MediaType } from "../../src/oci/media-types.ts";
import type { Allotment } from "../../src/field/field.ts";

export function sha256(bytes: Uint8Array | string): Digest {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

export const opts = { sha256: (b: Uint8Array) => sha256(b) };

export function layer(name: string, mediaType: string = MediaType.ociLayerGzip): Descriptor {
  return { mediaType, digest: sha256(`blob:${name}`), size: name.length + 100 };
}

export function allotment(row: number, col: number): Allotment {
  return { row, col, layer: layer(`allot-${row}-${col}`), diffId: sha256(`diff-${row}-${col}`) };
}

/** A base image of `n` layers with unknown fields sprinkled in manifest and config. */
export function baseImage(n: number, mediaTypes: "oci" | "docker" = "oci"): { manifest: ImageManifest; config: ImageConfig } {
  const docker = mediaTypes === "docker";
  const config: ImageConfig = {
    created: "2024-01-01T00:00:00Z",
    architecture: "amd64",
    os: "linux",
    "x-unknown": { keep: [1, 2, 3] },
    config: { Env: ["PATH=/bin"], Labels: { a: "b" } },
    rootfs: { type: "layers", diff_ids: Array.from({ length: n }, (_, i) => sha256(`base-diff-${i}`)) },
    history: [
      { created: "2024-01-01T00:00:00Z", created_by: "ENV PATH=/bin", empty_layer: true },
      ...Array.from({ length: n }, (_, i) => ({ created: "2024-01-01T00:00:00Z", created_by: `RUN step ${i}` })),
    ],
  };
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: docker ? MediaType.dockerManifest : MediaType.ociManifest,
    config: { mediaType: docker ? MediaType.dockerConfig : MediaType.ociConfig, digest: sha256(JSON.stringify(config)), size: 10 },
    layers: Array.from({ length: n }, (_, i) => layer(`base-${i}`, docker ? MediaType.dockerLayerGzip : MediaType.ociLayerGzip)),
    ...(docker ? {} : { annotations: { "org.example.base": "yes" } }),
    "x-manifest-extra": 42,
  };
  return { manifest, config };
}

export const created = "2025-02-03T04:05:06Z";
export const describe_ = (a: Allotment) => `2dfs COPY into allotment ${a.row},${a.col}`;
export const composeOpts = { created, describe: describe_, sha256: opts.sha256 };

export function decode(bytes: Uint8Array): unknown {
  return JSON.parse(new TextDecoder().decode(bytes));
}
