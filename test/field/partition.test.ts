import { describe, expect, test } from "bun:test";
import { EmptySelectionError, FieldFormatError } from "../../src/field/field.ts";
import { composeNative, readNativeField } from "../../src/field/native-format.ts";
import {
  MAX_RUNTIME_LAYERS,
  type ResolvedCell,
  layerCountWarning,
  partitionIndex,
  partitionNative,
  partitionReference,
} from "../../src/field/partition.ts";
import { composeReference } from "../../src/field/reference-format.ts";
import { Annotation } from "../../src/oci/annotations.ts";
import { layerHistoryIndexes, parseImageConfig } from "../../src/oci/config.ts";
import type { Descriptor } from "../../src/oci/descriptor.ts";
import { type ImageIndex, parseManifest } from "../../src/oci/manifest.ts";
import { MediaType } from "../../src/oci/media-types.ts";
import type { Rect } from "../../src/oci/partition-suffix.ts";
import { allotment, baseImage, composeOpts, decode, opts, sha256 } from "./fixtures.ts";

const r = (x1: number, y1: number, x2: number, y2: number): Rect => ({ x1, y1, x2, y2 });
const text = (b: Uint8Array) => new TextDecoder().decode(b);

// A 3x3 field with a hole at (1,2), on a base of 2 layers.
const CELLS: [number, number][] = [
  [0, 0], [0, 1], [0, 2],
  [1, 0], [1, 1],
  [2, 0], [2, 1], [2, 2],
];

function nativeImage() {
  const base = baseImage(2);
  return composeNative(base, CELLS.map(([row, col]) => allotment(row, col)), composeOpts);
}

const cellsOf = (layers: Descriptor[]) =>
  layers.filter((l) => l.annotations?.[Annotation.tdfsRow] !== undefined).map((l) => `${l.annotations![Annotation.tdfsRow]},${l.annotations![Annotation.tdfsCol]}`);

describe("partitionNative", () => {
  test("bounds are inclusive; base layers kept first; selection row-major", () => {
    const img = nativeImage();
    const out = partitionNative(img.manifest, img.config, [r(0, 1, 1, 2)], opts);
    expect(out.selected).toBe(3);
    expect(cellsOf(out.manifest.layers)).toEqual(["0,1", "0,2", "1,1"]);
    expect(out.manifest.layers.slice(0, 2)).toEqual(img.manifest.layers.slice(0, 2));
    expect(out.manifest.layers[2]).toEqual(img.manifest.layers[3]!); // (0,1) keeps its exact descriptor
    expect(out.config.rootfs.diff_ids).toEqual([
      ...img.config.rootfs.diff_ids.slice(0, 2),
      allotment(0, 1).diffId,
      allotment(0, 2).diffId,
      allotment(1, 1).diffId,
    ]);
  });

  test("a single cell", () => {
    const img = nativeImage();
    const out = partitionNative(img.manifest, img.config, [r(2, 2, 2, 2)], opts);
    expect(cellsOf(out.manifest.layers)).toEqual(["2,2"]);
  });

  test("union of rectangles, and overlaps never duplicate a layer", () => {
    const img = nativeImage();
    const union = partitionNative(img.manifest, img.config, [r(0, 0, 0, 0), r(2, 2, 2, 2)], opts);
    expect(cellsOf(union.manifest.layers)).toEqual(["0,0", "2,2"]);
    const overlap = partitionNative(img.manifest, img.config, [r(0, 0, 1, 1), r(1, 1, 2, 2), r(0, 0, 2, 2)], opts);
    expect(cellsOf(overlap.manifest.layers)).toEqual(CELLS.map(([a, b]) => `${a},${b}`));
    expect(new Set(overlap.manifest.layers.map((l) => l.digest)).size).toBe(overlap.manifest.layers.length);
  });

  test("the same set of cells gives the same bytes whatever the rectangles' order and shape", () => {
    const img = nativeImage();
    const a = partitionNative(img.manifest, img.config, [r(0, 0, 1, 1), r(2, 0, 2, 0)], opts);
    const b = partitionNative(img.manifest, img.config, [r(2, 0, 2, 0), r(1, 0, 1, 1), r(0, 0, 0, 1), r(0, 0, 0, 0)], opts);
    const c = partitionNative(img.manifest, img.config, [r(0, 0, 2, 1)], opts);
    expect(text(a.manifestBytes)).toBe(text(b.manifestBytes));
    expect(text(a.configBytes)).toBe(text(b.configBytes));
    // (0..2, 0..1) also contains (2,1): a different set, different bytes.
    expect(text(c.manifestBytes)).not.toBe(text(a.manifestBytes));
  });

  test("selecting the whole field keeps every layer", () => {
    const img = nativeImage();
    const out = partitionNative(img.manifest, img.config, [r(0, 0, 1_000_000, 1_000_000)], opts);
    expect(out.manifest.layers).toEqual(img.manifest.layers);
    expect(out.config).toEqual(img.config);
  });

  test("empty selection throws with the field's extent", () => {
    const img = nativeImage();
    let caught: unknown;
    try {
      partitionNative(img.manifest, img.config, [r(1, 2, 1, 2), r(5, 5, 9, 9)], opts);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(EmptySelectionError);
    const message = (caught as Error).message;
    expect(message).toContain("no allotment lies in the rectangles --1.2.1.2--5.5.9.9");
    expect(message).toContain("8 allotments in rows 0..2, columns 0..2");
    expect(() => partitionNative(img.manifest, img.config, [], opts)).toThrow(EmptySelectionError);
  });

  test("unknown fields and key order of manifest and config are preserved; config descriptor updated", () => {
    const img = nativeImage();
    const out = partitionNative(img.manifest, img.config, [r(0, 0, 0, 0)], opts);
    expect(Object.keys(out.manifest)).toEqual(Object.keys(img.manifest));
    expect(Object.keys(out.config)).toEqual(Object.keys(img.config));
    expect(out.manifest["x-manifest-extra"]).toBe(42);
    expect(out.manifest.annotations).toEqual({ ...img.manifest.annotations!, [Annotation.tdfsCells]: "0.0" });
    expect(out.config["x-unknown"]).toEqual({ keep: [1, 2, 3] });
    expect(out.manifest.config).toEqual({ ...img.manifest.config, digest: sha256(out.configBytes), size: out.configBytes.byteLength });
    expect(decode(out.manifestBytes)).toEqual(JSON.parse(JSON.stringify(out.manifest)));
    expect(parseImageConfig(out.configBytes)).toEqual(out.config);
  });

  test("does not modify its inputs", () => {
    const img = nativeImage();
    const before = JSON.stringify([img.manifest, img.config]);
    partitionNative(img.manifest, img.config, [r(0, 0, 0, 0)], opts);
    expect(JSON.stringify([img.manifest, img.config])).toBe(before);
  });

  test("history entries of dropped layers go, empty_layer entries stay, alignment holds", () => {
    const img = nativeImage();
    const out = partitionNative(img.manifest, img.config, [r(1, 0, 1, 1), r(0, 2, 0, 2)], opts);
    const history = out.config.history!;
    expect(history[0]!.empty_layer).toBe(true);
    expect(layerHistoryIndexes(out.config)).toHaveLength(out.manifest.layers.length);
    expect(history.map((h) => h.created_by)).toEqual([
      "ENV PATH=/bin",
      "RUN step 0",
      "RUN step 1",
      "2dfs COPY into allotment 0,2",
      "2dfs COPY into allotment 1,0",
      "2dfs COPY into allotment 1,1",
    ]);
  });

  test("history is matched from the end when the base history miscounts its layers", () => {
    const img = nativeImage();
    // A base history with an extra layer entry in front (as some broken base images have).
    const config = { ...img.config, history: [{ created_by: "bogus" }, ...img.config.history!] };
    const out = partitionNative(img.manifest, config, [r(2, 2, 2, 2)], opts);
    expect(out.config.history!.map((h) => h.created_by)).toEqual(["bogus", "ENV PATH=/bin", "RUN step 0", "RUN step 1", "2dfs COPY into allotment 2,2"]);
    const noHistory = { ...img.config };
    delete noHistory.history;
    expect(partitionNative(img.manifest, noHistory, [r(2, 2, 2, 2)], opts).config.history).toBeUndefined();
  });

  test("a partition is itself a native field and can be partitioned again", () => {
    const img = nativeImage();
    const first = partitionNative(img.manifest, img.config, [r(0, 0, 1, 1)], opts);
    const field = readNativeField(first.manifest, first.config);
    expect(field.allotments.map((a) => [a.row, a.col])).toEqual([[0, 0], [0, 1], [1, 0], [1, 1]]);
    const second = partitionNative(first.manifest, first.config, [r(1, 1, 1, 1)], opts);
    const direct = partitionNative(img.manifest, img.config, [r(1, 1, 1, 1)], opts);
    expect(text(second.manifestBytes)).toBe(text(direct.manifestBytes));
  });

  test("refuses a manifest that is not a native field", () => {
    const { manifest, config } = baseImage(2);
    expect(() => partitionNative(manifest, config, [r(0, 0, 0, 0)], opts)).toThrow(FieldFormatError);
  });
});

describe("partitionReference", () => {
  const fieldDescriptor = { mediaType: MediaType.tdfsField, digest: sha256("field"), size: 99 };
  const resolved = (row: number, col: number): ResolvedCell => ({
    row,
    col,
    digest: sha256(`ref blob ${row} ${col}`),
    diffId: sha256(`ref diff ${row} ${col}`),
    size: 1000 + row * 10 + col,
    mediaType: col % 2 ? MediaType.ociLayerZstd : MediaType.ociLayerGzip,
  });
  const CELLS_R = CELLS.map(([a, b]) => resolved(a, b));
  const referenceImage = () => composeReference(baseImage(2), fieldDescriptor, opts);

  test("drops the field layer, appends selected cells row-major with their media type and size", () => {
    const img = referenceImage();
    const out = partitionReference(img.manifest, img.config, [...CELLS_R].reverse(), [r(1, 0, 2, 1)], opts);
    expect(out.selected).toBe(4);
    expect(out.manifest.layers.some((l) => l.mediaType === MediaType.tdfsField)).toBe(false);
    expect(out.manifest.layers.slice(0, 2)).toEqual(img.manifest.layers.slice(0, 2));
    const added = out.manifest.layers.slice(2);
    const expected = [resolved(1, 0), resolved(1, 1), resolved(2, 0), resolved(2, 1)];
    expect(added.map((l) => [l.digest, l.mediaType, l.size])).toEqual(expected.map((c) => [c.digest, c.mediaType, c.size]));
    expect(cellsOf(added)).toEqual(["1,0", "1,1", "2,0", "2,1"]);
    expect(out.config.rootfs.diff_ids).toEqual([...img.config.rootfs.diff_ids, ...expected.map((c) => c.diffId)]);
    expect(parseManifest(out.manifestBytes).kind).toBe("image");
    expect(out.manifest.config).toEqual({ ...img.manifest.config, digest: sha256(out.configBytes), size: out.configBytes.byteLength });
  });

  test("the flattened image is a native field that can be partitioned again", () => {
    const img = referenceImage();
    const out = partitionReference(img.manifest, img.config, CELLS_R, [r(0, 0, 1, 1)], opts);
    const field = readNativeField(out.manifest, out.config);
    expect(field.source).toBe("cells");
    expect(field.allotments.map((a) => `${a.row},${a.col}`)).toEqual(["0,0", "0,1", "1,0", "1,1"]);
    const again = partitionNative(out.manifest, out.config, [r(1, 1, 1, 1)], opts);
    expect(cellsOf(again.manifest.layers.slice(2))).toEqual(["1,1"]);
  });

  test("extends history, keeping it aligned; unknown config fields kept", () => {
    const img = referenceImage();
    const out = partitionReference(img.manifest, img.config, CELLS_R, [r(0, 0, 0, 1)], opts);
    expect(layerHistoryIndexes(out.config)).toHaveLength(out.manifest.layers.length);
    expect(out.config.history!.slice(-2).map((h) => h.created_by)).toEqual(["2dfs allotment row 0 col 0", "2dfs allotment row 0 col 1"]);
    expect(out.config.history!.slice(-1)[0]!.created).toBe(img.config.created!);
    expect(out.config["x-unknown"]).toEqual({ keep: [1, 2, 3] });
    expect(Object.keys(out.config)).toEqual(Object.keys(img.config));
  });

  test("overlap, order independence and determinism", () => {
    const img = referenceImage();
    const a = partitionReference(img.manifest, img.config, CELLS_R, [r(0, 0, 1, 1), r(1, 1, 2, 2)], opts);
    const b = partitionReference(img.manifest, img.config, [...CELLS_R].reverse(), [r(2, 2, 2, 2), r(1, 1, 2, 1), r(0, 0, 1, 1), r(1, 2, 2, 2)], opts);
    expect(a.selected).toBe(6);
    expect(text(a.manifestBytes)).toBe(text(b.manifestBytes));
    expect(text(a.configBytes)).toBe(text(b.configBytes));
    expect(new Set(a.manifest.layers.map((l) => l.digest)).size).toBe(a.manifest.layers.length);
  });

  test("empty selection and malformed images", () => {
    const img = referenceImage();
    expect(() => partitionReference(img.manifest, img.config, CELLS_R, [r(1, 2, 1, 2)], opts)).toThrow(EmptySelectionError);
    expect(() => partitionReference(img.manifest, img.config, [], [r(0, 0, 0, 0)], opts)).toThrow(/no allotments/);
    const { manifest, config } = baseImage(2);
    expect(() => partitionReference(manifest, config, CELLS_R, [r(0, 0, 0, 0)], opts)).toThrow(/no 2dfs field layer/);
    const two = { ...img.manifest, layers: [...img.manifest.layers, fieldDescriptor] };
    expect(() => partitionReference(two, img.config, CELLS_R, [r(0, 0, 0, 0)], opts)).toThrow(/2 2dfs field layers/);
    const short = { ...img.config, rootfs: { ...img.config.rootfs, diff_ids: img.config.rootfs.diff_ids.slice(1) } };
    expect(() => partitionReference(img.manifest, short, CELLS_R, [r(0, 0, 0, 0)], opts)).toThrow(/diff_ids/);
  });
});

describe("partitionIndex", () => {
  const entry = (name: string, arch: string): Descriptor => ({
    mediaType: MediaType.ociManifest,
    digest: sha256(name),
    size: 100,
    platform: { architecture: arch, os: "linux" },
    annotations: { "org.example.entry": name },
  });
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [entry("amd", "amd64"), entry("arm", "arm64"), entry("att", "unknown")],
    annotations: { "org.example.index": "x" },
    "x-extra": true,
  };

  test("entries keep platform and annotations; digest, size and media type come from the partition", () => {
    const replacement = (d: Descriptor): Descriptor | undefined =>
      d.platform?.architecture === "unknown" ? undefined : { mediaType: MediaType.ociManifest, digest: sha256(`part ${d.digest}`), size: 7 };
    const out = partitionIndex(index, replacement);
    expect(out.index.manifests).toEqual([
      { ...entry("amd", "amd64"), digest: sha256(`part ${sha256("amd")}`), size: 7 },
      { ...entry("arm", "arm64"), digest: sha256(`part ${sha256("arm")}`), size: 7 },
    ]);
    expect(out.index.annotations).toEqual({ "org.example.index": "x" });
    expect(out.index["x-extra"]).toBe(true);
    expect(Object.keys(out.index)).toEqual(Object.keys(index));
    expect(decode(out.bytes)).toEqual(JSON.parse(JSON.stringify(out.index)));
    const parsed = parseManifest(out.bytes);
    expect(parsed.kind).toBe("index");
    expect(index.manifests).toHaveLength(3); // input untouched
  });

  test("dropping every entry is an empty selection", () => {
    expect(() => partitionIndex(index, () => undefined)).toThrow(EmptySelectionError);
  });
});

describe("layerCountWarning", () => {
  test("warns only above the runtime limit", () => {
    expect(layerCountWarning(MAX_RUNTIME_LAYERS)).toBeUndefined();
    expect(layerCountWarning(1)).toBeUndefined();
    const w = layerCountWarning(MAX_RUNTIME_LAYERS + 1);
    expect(w).toContain(`${MAX_RUNTIME_LAYERS + 1} layers`);
    expect(w).toContain("partition");
  });
});
