import { describe, expect, test } from "bun:test";
import { sha256Bytes } from "../../../src/hash/sha256.ts";
import { composeNative } from "../../../src/field/native-format.ts";
import { partitionReference } from "../../../src/field/partition.ts";
import type { ImageConfig } from "../../../src/oci/config.ts";
import type { Digest } from "../../../src/oci/digest.ts";
import type { ImageManifest } from "../../../src/oci/manifest.ts";
import { MediaType } from "../../../src/oci/media-types.ts";
import { WHOLE_FIELD } from "../../../src/oci/partition-suffix.ts";
import { findReferenceFieldLayer } from "../../../src/field/reference-format.ts";
import { MAX_DRAWN_CELLS, toFieldView } from "../../../src/registry/ui/page/field-view.ts";

const digestOf = (text: string) => sha256Bytes(new TextEncoder().encode(text));
const baseLayer = { mediaType: MediaType.ociLayerGzip, digest: digestOf("base"), size: 700 };
const base = {
  manifest: { schemaVersion: 2, mediaType: MediaType.ociManifest, config: { mediaType: MediaType.ociConfig, digest: digestOf("c"), size: 2 }, layers: [baseLayer] } as ImageManifest,
  config: { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [digestOf("base-tar")] }, history: [{ created_by: "busybox" }] } as ImageConfig,
};
const allotment = (row: number, col: number, size: number) => ({
  row,
  col,
  diffId: digestOf(`d${row}.${col}`),
  layer: { mediaType: MediaType.ociLayer, digest: digestOf(`l${row}.${col}`), size },
  dsts: [`/m/${row}-${col}.bin`],
});

function nativeImage(cells: ReturnType<typeof allotment>[]) {
  return composeNative(base, cells, {
    created: "2020-01-01T00:00:00Z",
    describe: (a) => `2dfs allotment ${a.row}.${a.col}: ${(a as ReturnType<typeof allotment>).dsts.join(" ")}`,
    sha256: sha256Bytes,
  });
}

describe("field view", () => {
  test("a native field: cells with sizes and the file names its history records, base layers summarised, holes in the axes", () => {
    const { manifest, config } = nativeImage([allotment(0, 0, 100), allotment(0, 2, 200), allotment(1, 1, 300)]);
    const view = toFieldView(manifest, config);
    expect(view.baseLayers).toBe(1);
    expect(view.baseBytes).toBe(700);
    expect(view.rows).toEqual([0, 1]);
    expect(view.cols).toEqual([0, 1, 2]);
    expect(view.compacted).toBe(false);
    expect(view.cells.map((c) => [c.row, c.col, c.size, c.files])).toEqual([
      [0, 0, 100, "/m/0-0.bin"],
      [0, 2, 200, "/m/0-2.bin"],
      [1, 1, 300, "/m/1-1.bin"],
    ]);
  });

  test("a native field without annotations (Docker schema 2) is read from its config history", () => {
    const { manifest, config } = nativeImage([allotment(0, 0, 100), allotment(2, 0, 50)]);
    const { annotations: _a, ...plain } = manifest;
    const stripped = { ...plain, layers: manifest.layers.map(({ annotations: _l, ...l }) => l) } as ImageManifest;
    expect(toFieldView(stripped, config).cells.map((c) => [c.row, c.col])).toEqual([[0, 0], [2, 0]]);
  });

  test("a reference field is drawn from its whole-field partition, whose layers carry the cells", () => {
    const field = { mediaType: MediaType.tdfsField, digest: digestOf("field"), size: 300 };
    const manifest = { ...base.manifest, layers: [baseLayer, field] };
    expect(findReferenceFieldLayer(manifest)).toBe(1);
    const cells = [
      { row: 0, col: 1, digest: digestOf("a") as Digest, diffId: digestOf("da") as Digest, size: 11, mediaType: MediaType.ociLayerGzip },
      { row: 3, col: 0, digest: digestOf("b") as Digest, diffId: digestOf("db") as Digest, size: 22, mediaType: MediaType.ociLayerGzip },
    ];
    const whole = partitionReference(manifest, base.config, cells, [...WHOLE_FIELD], { sha256: sha256Bytes });
    expect(findReferenceFieldLayer(whole.manifest)).toBe(-1);
    const view = toFieldView(whole.manifest, whole.config);
    expect(view.baseLayers).toBe(1);
    expect(view.cells.map((c) => [c.row, c.col, c.size, c.files])).toEqual([[0, 1, 11, ""], [3, 0, 22, ""]]);
    expect(view.rows).toEqual([0, 1, 2, 3]);
  });

  test("an image without a field shows its layers as base layers and no cells", () => {
    const view = toFieldView(base.manifest, base.config);
    expect(view).toMatchObject({ cells: [], baseLayers: 1, baseBytes: 700, rows: [], cols: [] });
  });

  test("a sparse field too large to draw whole draws only the rows and columns it uses", () => {
    const { manifest, config } = nativeImage([allotment(0, 0, 1), allotment(MAX_DRAWN_CELLS, 5, 1)]);
    const view = toFieldView(manifest, config);
    expect(view.compacted).toBe(true);
    expect(view.rows).toEqual([0, MAX_DRAWN_CELLS]);
    expect(view.cols).toEqual([0, 5]);
  });
});
