/**
 * Where a field is read from, in order of authority: (1) the manifest's cell list, (2) the
 * layers' coordinate annotations, (3) the config history 2dfs build wrote, (4) nothing: no field.
 */
import { describe, expect, test } from "bun:test";
import type { Allotment } from "../../src/field/field.ts";
import { FIELD_START_HISTORY_COMMENT, allotmentCellsFromHistory } from "../../src/field/layer-history.ts";
import { composeNative, findNativeField, readNativeField } from "../../src/field/native-format.ts";
import { partitionNative } from "../../src/field/partition.ts";
import { Annotation } from "../../src/oci/annotations.ts";
import type { ImageConfig } from "../../src/oci/config.ts";
import type { ImageManifest } from "../../src/oci/manifest.ts";
import { parseManifest } from "../../src/oci/manifest.ts";
import { MediaType } from "../../src/oci/media-types.ts";
import { allotment, baseImage, created, opts, sha256 } from "./fixtures.ts";

// Exactly what `2dfs build` writes as the history of an allotment layer.
const buildOpts = { created, describe: (a: Allotment) => `2dfs allotment ${a.row}.${a.col}: /data/r${a.row}c${a.col}.bin`, sha256: opts.sha256 };
const cellsOf = (f: { allotments: { row: number; col: number }[] } | undefined) => f?.allotments.map((a) => `${a.row}.${a.col}`);
const stripLayer = (m: ImageManifest, i: number): ImageManifest => ({
  ...m,
  // As skopeo does to an uncompressed layer: gzipped (a new digest), its annotations dropped.
  layers: m.layers.map((l, k) => (k === i ? { mediaType: MediaType.ociLayerGzip, digest: sha256(`gz ${l.digest}`), size: l.size + 20 } : l)),
});

// What `docker push` of a pulled image writes: Docker schema 2 (no annotations anywhere), layers
// recompressed by the daemon (new digests), the config bytes unchanged.
function toDockerFixture(m: ImageManifest): ImageManifest {
  const { annotations: _a, ...rest } = m;
  return {
    ...rest,
    mediaType: MediaType.dockerManifest,
    config: { mediaType: MediaType.dockerConfig, digest: m.config.digest, size: m.config.size },
    layers: m.layers.map((l) => ({ mediaType: MediaType.dockerLayerGzip, digest: sha256(`docker ${l.digest}`), size: l.size + 7 })),
  };
}

function field() {
  const { manifest, config } = baseImage(2);
  return composeNative({ manifest, config }, [allotment(0, 0), allotment(0, 1), allotment(1, 1)], buildOpts);
}

describe("(1) the manifest's cell list is the authority when present", () => {
  test("a first allotment whose annotations a copy dropped is still that allotment, never a base layer", () => {
    const out = field();
    const copied = stripLayer(out.manifest, 2);
    const f = readNativeField(copied, out.config);
    expect(f.source).toBe("cells");
    expect(f.baseLayerCount).toBe(2);
    expect(cellsOf(f)).toEqual(["0.0", "0.1", "1.1"]);
    expect(f.allotments[0]!.layer.digest).toBe(copied.layers[2]!.digest);
    expect(f.allotments[0]!.diffId).toBe(allotment(0, 0).diffId);
    // Its partitions hold the right layers: (0,0) alone is the copied layer, (1,1) is not it.
    const p00 = partitionNative(copied, out.config, [{ x1: 0, y1: 0, x2: 0, y2: 0 }], opts);
    expect(p00.manifest.layers.slice(2).map((l) => l.digest)).toEqual([copied.layers[2]!.digest]);
    const p11 = partitionNative(copied, out.config, [{ x1: 1, y1: 1, x2: 1, y2: 1 }], opts);
    expect(p11.manifest.layers.slice(2).map((l) => l.digest)).toEqual([copied.layers[4]!.digest]);
  });

  test("a layer annotation that disagrees with the cell list is an error naming the layer", () => {
    const out = field();
    const layers = out.manifest.layers.map((l, i) =>
      i === 3 ? { ...l, annotations: { [Annotation.tdfsRow]: "1", [Annotation.tdfsCol]: "0" } } : l,
    );
    expect(() => readNativeField({ ...out.manifest, layers }, out.config)).toThrow(
      "layers[3] is annotated as allotment (1, 0) but io.2dfs.field.cells says (0, 1)",
    );
  });

  test("a base layer annotated as an allotment disagrees with the cell list too", () => {
    const out = field();
    const cells = { ...out.manifest.annotations, [Annotation.tdfsCells]: "0.1 1.1" };
    expect(() => readNativeField({ ...out.manifest, annotations: cells }, out.config)).toThrow(
      /^layers\[2\] is annotated as allotment \(0, 0\) but io\.2dfs\.field\.cells lists 2 cells, which makes it a base layer$/,
    );
  });

  test("the cell list alone (no version marker) marks a field; it wins over the history", () => {
    const out = field();
    const { [Annotation.tdfsVersion]: _v, ...annotations } = out.manifest.annotations!;
    const bare = { ...out.manifest, annotations, layers: out.manifest.layers.map(({ annotations: _, ...l }) => l) };
    const history = out.config.history!.map((h) => (h.created_by?.startsWith("2dfs allotment 1.1") ? { ...h, created_by: "2dfs allotment 5.5: x" } : h));
    const f = readNativeField(bare, { ...out.config, history });
    expect(f.source).toBe("cells");
    expect(cellsOf(f)).toEqual(["0.0", "0.1", "1.1"]);
  });
});

describe("(2) without a cell list, the layers' annotations (manifests of earlier 2dfs versions)", () => {
  test("read from the first annotated layer on", () => {
    const out = field();
    const { [Annotation.tdfsCells]: _c, ...annotations } = out.manifest.annotations!;
    const f = readNativeField({ ...out.manifest, annotations }, out.config);
    expect(f.source).toBe("layer-annotations");
    expect(f.baseLayerCount).toBe(2);
    expect(cellsOf(f)).toEqual(["0.0", "0.1", "1.1"]);
  });
});

describe("(3) without field annotations, the config history 2dfs build wrote", () => {
  test("a Docker schema 2 re-push (no annotations, Docker media types, recompressed layers) is still the field", () => {
    const out = field();
    const docker = toDockerFixture(out.manifest);
    expect(parseManifest(new TextEncoder().encode(JSON.stringify(docker))).mediaType).toBe(MediaType.dockerManifest);
    const f = findNativeField(docker, out.config);
    expect(f?.source).toBe("history");
    expect(f?.baseLayerCount).toBe(2);
    expect(cellsOf(f)).toEqual(["0.0", "0.1", "1.1"]);
    expect(f!.allotments.map((a) => a.layer.digest)).toEqual(docker.layers.slice(2).map((l) => l.digest));
    expect(f!.allotments.map((a) => a.diffId)).toEqual([allotment(0, 0).diffId, allotment(0, 1).diffId, allotment(1, 1).diffId]);
  });

  test("its partition is a valid Docker schema 2 manifest with the source's media types, and a field again", () => {
    const out = field();
    const docker = toDockerFixture(out.manifest);
    const p = partitionNative(docker, out.config, [{ x1: 0, y1: 1, x2: 1, y2: 1 }], opts);
    const parsed = parseManifest(p.manifestBytes);
    expect(parsed.mediaType).toBe(MediaType.dockerManifest);
    expect(p.manifest.annotations).toBeUndefined();
    expect(p.manifest.config.mediaType).toBe(MediaType.dockerConfig);
    expect(p.manifest.layers.map((l) => l.mediaType)).toEqual(Array(4).fill(MediaType.dockerLayerGzip));
    expect(p.manifest.layers.map((l) => l.digest)).toEqual([0, 1, 3, 4].map((i) => docker.layers[i]!.digest));
    expect(p.config.rootfs.diff_ids.slice(2)).toEqual([allotment(0, 1).diffId, allotment(1, 1).diffId]);
    expect(p.manifest.config.digest).toBe(sha256(p.configBytes));
    expect(cellsOf(findNativeField(p.manifest, p.config))).toEqual(["0.1", "1.1"]);
  });

  test("partition history entries (`2dfs allotment row R col C`) are read the same way", () => {
    const history = [{ created_by: "base" }, { created_by: "2dfs allotment row 0 col 3", comment: "2dfs allotment" }, { created_by: "2dfs allotment row 2 col 0", comment: "2dfs allotment" }];
    expect(allotmentCellsFromHistory(history, 1_000_000)).toEqual([{ row: 0, col: 3 }, { row: 2, col: 0 }]);
    // Without the 2dfs comment, or not at the end, nothing is read.
    expect(allotmentCellsFromHistory([{ created_by: "2dfs allotment 0.0: /x" }], 1_000_000)).toEqual([]);
    expect(allotmentCellsFromHistory([history[1]!, { created_by: "RUN rm -rf /x" }], 1_000_000)).toEqual([]);
  });

  test("a field built on a field: the base's allotments stay base layers (field-start marker)", () => {
    const first = field();
    const base = { manifest: first.manifest, config: first.config };
    // (2,0) and (2,1) continue the base's row-major order, so only the marker tells them apart.
    const second = composeNative(base, [allotment(2, 0), allotment(2, 1)], buildOpts);
    expect(second.config.history!.filter((h) => h.comment === FIELD_START_HISTORY_COMMENT)).toEqual([
      { created, created_by: "2dfs field", comment: FIELD_START_HISTORY_COMMENT, empty_layer: true },
    ]);
    const f = findNativeField(toDockerFixture(second.manifest), second.config);
    expect(f?.baseLayerCount).toBe(5);
    expect(cellsOf(f)).toEqual(["2.0", "2.1"]);
    // A base that is not a field gets no marker.
    expect(first.config.history!.some((h) => h.comment === FIELD_START_HISTORY_COMMENT)).toBe(false);
  });

  test("a history naming more allotments than the manifest has layers is an error", () => {
    const out = field();
    const docker = toDockerFixture(out.manifest);
    const short = { ...docker, layers: docker.layers.slice(4) };
    const config: ImageConfig = { ...out.config, rootfs: { ...out.config.rootfs, diff_ids: out.config.rootfs.diff_ids.slice(4) } };
    expect(() => findNativeField(short, config)).toThrow("the config history names 3 allotments but the manifest has 1 layers");
  });
});

describe("(4) otherwise not a field", () => {
  test("a plain image, and one whose history merely mentions 2dfs", () => {
    const { manifest, config } = baseImage(2);
    expect(findNativeField(manifest, config)).toBeUndefined();
    const mentions = { ...config, history: [...config.history!, { created_by: "echo 2dfs allotment 0.0", comment: "hand-made" }] };
    expect(findNativeField(manifest, mentions)).toBeUndefined();
    expect(() => readNativeField(manifest, config)).toThrow(/no 2DFS field/);
  });
});
