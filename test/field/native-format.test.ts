import { describe, expect, test } from "bun:test";
import { FieldFormatError } from "../../src/field/field.ts";
import { MISSING_HISTORY_COMMENT } from "../../src/field/layer-history.ts";
import { composeNative, isNativeField, readNativeField } from "../../src/field/native-format.ts";
import { Annotation, TDFS_FORMAT_VERSION } from "../../src/oci/annotations.ts";
import { layerHistoryIndexes, parseImageConfig } from "../../src/oci/config.ts";
import type { ImageConfig } from "../../src/oci/config.ts";
import { parseManifest } from "../../src/oci/manifest.ts";
import type { ImageManifest } from "../../src/oci/manifest.ts";
import { MediaType } from "../../src/oci/media-types.ts";
import { allotment, baseImage, composeOpts, created, decode, sha256 } from "./fixtures.ts";

const scratchConfig = (): ImageConfig => ({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } });

describe("composeNative", () => {
  test("scratch: OCI manifest, allotments row-major with coordinates, marker annotation", () => {
    const input = [allotment(1, 0), allotment(0, 2), allotment(0, 0)];
    const out = composeNative({ config: scratchConfig() }, input, composeOpts);
    const parsed = parseManifest(out.manifestBytes);
    expect(parsed.kind).toBe("image");
    expect(parsed.mediaType).toBe(MediaType.ociManifest);
    expect(out.manifest.annotations?.[Annotation.tdfsVersion]).toBe(TDFS_FORMAT_VERSION);
    expect(isNativeField(out.manifest)).toBe(true);
    expect(out.manifest.layers.map((l) => [l.annotations?.[Annotation.tdfsRow], l.annotations?.[Annotation.tdfsCol]])).toEqual([
      ["0", "0"],
      ["0", "2"],
      ["1", "0"],
    ]);
    expect(out.manifest.layers[0]!.digest).toBe(allotment(0, 0).layer.digest);
    expect(out.config.rootfs.diff_ids).toEqual([allotment(0, 0).diffId, allotment(0, 2).diffId, allotment(1, 0).diffId]);
    expect(out.config.history).toEqual([
      { created, created_by: "2dfs COPY into allotment 0,0", comment: "2dfs allotment" },
      { created, created_by: "2dfs COPY into allotment 0,2", comment: "2dfs allotment" },
      { created, created_by: "2dfs COPY into allotment 1,0", comment: "2dfs allotment" },
    ]);
    // Bytes and descriptors agree.
    expect(decode(out.manifestBytes)).toEqual(JSON.parse(JSON.stringify(out.manifest)));
    expect(decode(out.configBytes)).toEqual(JSON.parse(JSON.stringify(out.config)));
    expect(out.configDescriptor).toEqual({ mediaType: MediaType.ociConfig, digest: sha256(out.configBytes), size: out.configBytes.byteLength });
    expect(out.manifest.config).toEqual(out.configDescriptor);
    parseImageConfig(out.configBytes);
  });

  test("round trip through bytes: readNativeField gives back the allotments", () => {
    const input = [allotment(2, 1), allotment(0, 0), allotment(0, 5)];
    const { manifest, config } = baseImage(3);
    const out = composeNative({ manifest, config }, input, composeOpts);
    const m = parseManifest(out.manifestBytes);
    if (m.kind !== "image") throw new Error("expected an image manifest");
    const field = readNativeField(m.manifest, parseImageConfig(out.configBytes));
    expect(field.baseLayerCount).toBe(3);
    expect(field.allotments.map((a) => [a.row, a.col, a.layer.digest, a.diffId])).toEqual(
      [allotment(0, 0), allotment(0, 5), allotment(2, 1)].map((a) => [a.row, a.col, a.layer.digest, a.diffId]),
    );
  });

  test("the field survives a copy that drops layer annotations (skopeo recompressing layers)", () => {
    const { manifest, config } = baseImage(2);
    const out = composeNative({ manifest, config }, [allotment(2, 1), allotment(0, 0), allotment(0, 5)], composeOpts);
    expect(out.manifest.annotations?.[Annotation.tdfsCells]).toBe("0.0 0.5 2.1");
    const stripped = { ...out.manifest, layers: out.manifest.layers.map(({ annotations: _, ...layer }) => ({ ...layer, digest: sha256(layer.digest) })) };
    const field = readNativeField(stripped, out.config);
    expect(field.baseLayerCount).toBe(2);
    expect(field.allotments.map((a) => `${a.row}.${a.col}`)).toEqual(["0.0", "0.5", "2.1"]);
    expect(field.allotments.map((a) => a.layer.digest)).toEqual(stripped.layers.slice(2).map((l) => l.digest));
  });

  test("a cell list longer than the layers is refused", () => {
    const { manifest, config } = baseImage(0);
    const out = composeNative({ manifest, config }, [allotment(0, 0)], composeOpts);
    const bad = { ...out.manifest, layers: [], annotations: { ...out.manifest.annotations, [Annotation.tdfsCells]: "0.0 0.1" } };
    expect(() => readNativeField(bad, { ...out.config, rootfs: { type: "layers", diff_ids: [] } })).toThrow(/lists 2 cells but the manifest has 0 layers/);
  });

  test("keeps every base field, unknown ones included, and base layers first", () => {
    const { manifest, config } = baseImage(2);
    const out = composeNative({ manifest, config }, [allotment(0, 0)], composeOpts);
    expect(out.manifest["x-manifest-extra"]).toBe(42);
    expect(out.manifest.annotations).toEqual({ "org.example.base": "yes", [Annotation.tdfsVersion]: TDFS_FORMAT_VERSION, [Annotation.tdfsCells]: "0.0" });
    expect(out.manifest.layers.slice(0, 2)).toEqual(manifest.layers);
    expect(out.config["x-unknown"]).toEqual({ keep: [1, 2, 3] });
    expect(out.config.config).toEqual(config.config!);
    expect(out.config.created).toBe(config.created!);
    expect(Object.keys(out.config)).toEqual(Object.keys(config));
    expect(out.config.rootfs.diff_ids).toEqual([...config.rootfs.diff_ids, allotment(0, 0).diffId]);
    expect(out.config.history!.slice(0, 3)).toEqual(config.history!);
    expect(out.config.history).toHaveLength(4);
  });

  test("does not modify its inputs", () => {
    const { manifest, config } = baseImage(2);
    const before = JSON.stringify({ manifest, config });
    composeNative({ manifest, config }, [allotment(0, 0)], composeOpts);
    expect(JSON.stringify({ manifest, config })).toBe(before);
  });

  test("a Docker base becomes an OCI manifest with OCI layer types", () => {
    const { manifest, config } = baseImage(2, "docker");
    const out = composeNative({ manifest, config }, [allotment(0, 0)], composeOpts);
    expect(out.manifest.mediaType).toBe(MediaType.ociManifest);
    expect(out.manifest.config.mediaType).toBe(MediaType.ociConfig);
    expect(out.manifest.layers.map((l) => l.mediaType)).toEqual([MediaType.ociLayerGzip, MediaType.ociLayerGzip, MediaType.ociLayerGzip]);
    expect(out.manifest.layers.slice(0, 2).map((l) => l.digest)).toEqual(manifest.layers.map((l) => l.digest));
    expect(parseManifest(out.manifestBytes).mediaType).toBe(MediaType.ociManifest);
  });

  test("a missing base history is padded so allotment history lines up with allotment layers", () => {
    const { manifest, config } = baseImage(3);
    delete config.history;
    const out = composeNative({ manifest, config }, [allotment(0, 0), allotment(0, 1)], composeOpts);
    const history = out.config.history!;
    expect(layerHistoryIndexes(out.config)).toHaveLength(out.manifest.layers.length);
    expect(history.slice(0, 3).every((h) => h.comment === MISSING_HISTORY_COMMENT)).toBe(true);
    expect(history[3]!.created_by).toBe("2dfs COPY into allotment 0,0");
  });

  test("a short base history is padded at its end", () => {
    const { manifest, config } = baseImage(3);
    config.history = config.history!.slice(0, 2); // the empty_layer entry and one layer entry
    const out = composeNative({ manifest, config }, [allotment(0, 0)], composeOpts);
    const history = out.config.history!;
    expect(history.slice(0, 2)).toEqual(config.history);
    expect(history.slice(2, 4).map((h) => h.comment)).toEqual([MISSING_HISTORY_COMMENT, MISSING_HISTORY_COMMENT]);
    expect(layerHistoryIndexes(out.config)).toHaveLength(4);
  });

  test("a native base contributes its allotments as plain base layers", () => {
    const first = composeNative({ config: scratchConfig() }, [allotment(0, 0), allotment(0, 1)], composeOpts);
    const second = composeNative({ manifest: first.manifest, config: first.config }, [allotment(0, 0)], composeOpts);
    const field = readNativeField(second.manifest, second.config);
    expect(field.baseLayerCount).toBe(2);
    expect(field.allotments).toHaveLength(1);
    expect(second.manifest.layers[0]!.annotations).toBeUndefined();
  });

  test("rejects duplicate cells and a base whose diff_ids do not match its layers", () => {
    expect(() => composeNative({ config: scratchConfig() }, [allotment(0, 0), allotment(0, 0)], composeOpts)).toThrow(FieldFormatError);
    const { manifest, config } = baseImage(2);
    config.rootfs.diff_ids.pop();
    expect(() => composeNative({ manifest, config }, [allotment(0, 0)], composeOpts)).toThrow(/diff_ids/);
  });

  test("no allotments gives a marked image with the base layers", () => {
    const { manifest, config } = baseImage(1);
    const out = composeNative({ manifest, config }, [], composeOpts);
    expect(readNativeField(out.manifest, out.config)).toEqual({ baseLayerCount: 1, allotments: [], source: "cells" });
  });
});

describe("readNativeField validation", () => {
  const build = () => composeNative({ config: scratchConfig() }, [allotment(0, 0), allotment(0, 1), allotment(1, 0)], composeOpts);
  const withLayer = (m: ImageManifest, i: number, annotations: Record<string, string> | undefined): ImageManifest => ({
    ...m,
    layers: m.layers.map((l, k) => (k === i ? { ...l, annotations } : l)),
  });

  // Manifests written before the cell list existed: the layers' own annotations are the field.
  const legacy = (m: ImageManifest): ImageManifest => {
    const { [Annotation.tdfsCells]: _cells, ...annotations } = m.annotations!;
    return { ...m, annotations };
  };

  test("isNativeField needs the marker", () => {
    expect(isNativeField(baseImage(1).manifest)).toBe(false);
  });

  test("missing marker or unknown version", () => {
    const out = build();
    expect(() => readNativeField({ ...out.manifest, annotations: {} }, out.config)).toThrow(/no 2DFS field/);
    expect(() => readNativeField({ ...out.manifest, annotations: { [Annotation.tdfsVersion]: "99" } }, out.config)).toThrow(/version "99"/);
  });

  test("bad coordinates", () => {
    const out = build();
    for (const bad of ["-1", "01", "1.0", "", "x", " 1", "1e3", "1000001"]) {
      const m = withLayer(out.manifest, 1, { [Annotation.tdfsRow]: "0", [Annotation.tdfsCol]: bad });
      expect(() => readNativeField(m, out.config)).toThrow(FieldFormatError);
    }
    const m = withLayer(out.manifest, 1, { [Annotation.tdfsRow]: "0" });
    expect(() => readNativeField(m, out.config)).toThrow(/missing annotation/);
  });

  test("order and duplicates (legacy layer annotations)", () => {
    const out = build();
    const swapped = legacy({ ...out.manifest, layers: [out.manifest.layers[1]!, out.manifest.layers[0]!, out.manifest.layers[2]!] });
    expect(() => readNativeField(swapped, out.config)).toThrow(/row-major/);
    const dup = legacy(withLayer(out.manifest, 1, { [Annotation.tdfsRow]: "0", [Annotation.tdfsCol]: "0" }));
    expect(() => readNativeField(dup, out.config)).toThrow(/appears twice/);
  });

  test("order and duplicates (cell list)", () => {
    const out = build();
    const cells = (list: string) => ({ ...out.manifest, annotations: { ...out.manifest.annotations, [Annotation.tdfsCells]: list } });
    const bare = (m: ImageManifest) => ({ ...m, layers: m.layers.map(({ annotations: _, ...l }) => l) });
    expect(() => readNativeField(bare(cells("0.1 0.0 1.0")), out.config)).toThrow(/layers\[1\]: cell \(0, 0\) comes after \(0, 1\)/);
    expect(() => readNativeField(bare(cells("0.0 0.0 1.0")), out.config)).toThrow(/appears twice/);
  });

  test("a plain layer after allotments (legacy layer annotations)", () => {
    const out = build();
    const m = legacy(withLayer(out.manifest, 1, undefined));
    expect(() => readNativeField(m, out.config)).toThrow(/follows allotment layers/);
  });

  test("diff_ids length must match", () => {
    const out = build();
    const config = { ...out.config, rootfs: { ...out.config.rootfs, diff_ids: out.config.rootfs.diff_ids.slice(1) } };
    expect(() => readNativeField(out.manifest, config)).toThrow(/diff_ids/);
  });
});
