import { describe, expect, test } from "bun:test";
import { FieldFormatError } from "../../src/field/field.ts";
import {
  MAX_FIELD_BLOB_BYTES,
  type ReferenceCell,
  composeReference,
  findReferenceFieldLayer,
  parseReferenceField,
  toReferenceFieldBytes,
} from "../../src/field/reference-format.ts";
import type { ImageConfig } from "../../src/oci/config.ts";
import { parseManifest } from "../../src/oci/manifest.ts";
import { MediaType } from "../../src/oci/media-types.ts";
import { baseImage, decode, opts, sha256 } from "./fixtures.ts";

const hex = (d: string) => d.slice("sha256:".length);
const cell = (row: number, col: number): ReferenceCell => ({ row, col, digest: sha256(`blob ${row} ${col}`), diffId: sha256(`diff ${row} ${col}`) });
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytes = (doc: unknown) => new TextEncoder().encode(typeof doc === "string" ? doc : JSON.stringify(doc));

describe("toReferenceFieldBytes", () => {
  test("exact compact shape and key order for one allotment", () => {
    const c = cell(0, 0);
    expect(text(toReferenceFieldBytes([c]))).toBe(
      `{"rows":[{"allotments":[{"row":0,"col":0,"digest":"${hex(c.digest)}","diffid":"${hex(c.diffId)}"}],"allotments_size":1}],"rows_size":1,"owner":""}`,
    );
  });

  test("rows padded to the highest row, each row to its own highest column, holes as placeholders", () => {
    const doc = decode(toReferenceFieldBytes([cell(2, 1), cell(0, 2)])) as {
      rows: { allotments: { row: number; col: number; digest: string; diffid: string }[]; allotments_size: number }[];
      rows_size: number;
      owner: string;
    };
    expect(doc.rows_size).toBe(3);
    expect(doc.owner).toBe("");
    expect(doc.rows.map((r) => r.allotments_size)).toEqual([3, 0, 2]);
    expect(doc.rows.map((r) => r.allotments.length)).toEqual([3, 0, 2]);
    expect(doc.rows[0]!.allotments[0]).toEqual({ row: 0, col: 0, digest: "", diffid: "" });
    expect(doc.rows[0]!.allotments[1]).toEqual({ row: 0, col: 1, digest: "", diffid: "" });
    expect(doc.rows[0]!.allotments[2]!.digest).toBe(hex(cell(0, 2).digest));
    expect(doc.rows[2]!.allotments[0]).toEqual({ row: 2, col: 0, digest: "", diffid: "" });
    expect(doc.rows[2]!.allotments[1]).toEqual({ row: 2, col: 1, digest: hex(cell(2, 1).digest), diffid: hex(cell(2, 1).diffId) });
  });

  test("empty field", () => {
    expect(text(toReferenceFieldBytes([]))).toBe('{"rows":[],"rows_size":0,"owner":""}');
    expect(parseReferenceField(toReferenceFieldBytes([]))).toEqual([]);
  });

  test("input order does not change the bytes", () => {
    const cells = [cell(0, 0), cell(1, 3), cell(0, 1), cell(4, 0)];
    expect(text(toReferenceFieldBytes(cells))).toBe(text(toReferenceFieldBytes([...cells].reverse())));
  });

  test("rejects duplicates, bad indexes, non-sha256 digests", () => {
    expect(() => toReferenceFieldBytes([cell(0, 0), cell(0, 0)])).toThrow(FieldFormatError);
    expect(() => toReferenceFieldBytes([{ ...cell(0, 0), row: -1 }])).toThrow(FieldFormatError);
    expect(() => toReferenceFieldBytes([{ ...cell(0, 0), col: 0.5 }])).toThrow(FieldFormatError);
    expect(() => toReferenceFieldBytes([{ ...cell(0, 0), digest: `sha512:${"a".repeat(128)}` }])).toThrow(/sha256 only/);
  });
});

describe("parseReferenceField", () => {
  test("round trip with holes, row-major order", () => {
    const cells = [cell(3, 0), cell(0, 4), cell(0, 1), cell(1, 0), cell(3, 2)];
    const back = parseReferenceField(toReferenceFieldBytes(cells));
    expect(back).toEqual([cell(0, 1), cell(0, 4), cell(1, 0), cell(3, 0), cell(3, 2)]);
  });

  test("reads a pretty-printed blob with extra keys (size, mediaType) as the reference would", () => {
    const c = cell(0, 1);
    const doc = {
      rows: [
        {
          allotments: [
            { row: 0, col: 1, digest: "", diffid: "" }, // stale col in padding, as the reference builder writes it
            { row: 0, col: 1, digest: hex(c.digest), diffid: hex(c.diffId), size: 12, mediaType: "x" },
          ],
          allotments_size: 2,
        },
      ],
      rows_size: 1,
      owner: "someone",
    };
    expect(parseReferenceField(bytes(JSON.stringify(doc, null, 2)))).toEqual([c]);
  });

  test("the position in the grid decides the column, not a stale stored col", () => {
    const a = cell(0, 0);
    const b = cell(0, 1);
    const doc = {
      rows: [
        {
          allotments: [
            { row: 0, col: 1, digest: hex(a.digest), diffid: hex(a.diffId) },
            { row: 0, col: 1, digest: hex(b.digest), diffid: hex(b.diffId) },
          ],
          allotments_size: 2,
        },
      ],
      rows_size: 1,
      owner: "",
    };
    expect(parseReferenceField(bytes(doc))).toEqual([a, b]);
  });

  test("errors", () => {
    const good = hex(cell(0, 0).digest);
    const bad: unknown[] = [
      "not json",
      "[]",
      { rows: {} },
      { rows: [5] },
      { rows: [{ allotments: {} }] },
      { rows: [{ allotments: [7] }] },
      { rows: [{ allotments: [{ row: 0, col: 0, digest: `sha256:${good}`, diffid: good }] }] },
      { rows: [{ allotments: [{ row: 0, col: 0, digest: good.toUpperCase(), diffid: good }] }] },
      { rows: [{ allotments: [{ row: 0, col: 0, digest: good, diffid: "" }] }] },
      { rows: [{ allotments: [{ row: 0, col: 0, digest: good }] }] },
      { rows: [{ allotments: [{ row: 0, col: 0, digest: 5, diffid: good }] }] },
      { rows: [{ allotments: [{ row: 1, col: 0, digest: good, diffid: good }] }] },
    ];
    for (const doc of bad) expect(() => parseReferenceField(bytes(doc))).toThrow(FieldFormatError);
  });

  test("refuses blobs over the size cap before parsing", () => {
    const big = new Uint8Array(MAX_FIELD_BLOB_BYTES + 1);
    expect(() => parseReferenceField(big)).toThrow(/over the/);
  });
});

describe("findReferenceFieldLayer and composeReference", () => {
  const field = { mediaType: MediaType.tdfsField, digest: sha256("field"), size: 5 };

  test("appends the field as the last layer and leaves the base config untouched", () => {
    const { manifest, config } = baseImage(2);
    const out = composeReference({ manifest, config }, field, opts);
    expect(out.manifest.layers).toEqual([...manifest.layers, field]);
    expect(findReferenceFieldLayer(out.manifest)).toBe(2);
    expect(findReferenceFieldLayer(manifest)).toBe(-1);
    expect(out.manifest.config).toEqual(manifest.config);
    expect(out.configDescriptor).toEqual(manifest.config);
    expect(out.config).toBe(config);
    expect(out.manifest["x-manifest-extra"]).toBe(42);
    expect(decode(out.manifestBytes)).toEqual(JSON.parse(JSON.stringify(out.manifest)));
  });

  test("given config bytes are returned as they are", () => {
    const { manifest, config } = baseImage(1);
    const configBytes = bytes(JSON.stringify(config, null, 2));
    const configDescriptor = { mediaType: MediaType.ociConfig, digest: sha256(configBytes), size: configBytes.byteLength };
    const out = composeReference({ manifest: { ...manifest, config: configDescriptor }, config, configDescriptor, configBytes }, field, opts);
    expect(out.configBytes).toBe(configBytes);
    expect(out.manifest.config.digest).toBe(sha256(configBytes));
  });

  test("scratch base: config descriptor computed from the serialised config", () => {
    const config: ImageConfig = { architecture: "arm64", os: "linux", rootfs: { type: "layers", diff_ids: [] } };
    const out = composeReference({ config }, field, opts);
    expect(out.configDescriptor).toEqual({ mediaType: MediaType.ociConfig, digest: sha256(out.configBytes), size: out.configBytes.byteLength });
    expect(decode(out.configBytes)).toEqual(config);
    const parsed = parseManifest(out.manifestBytes);
    expect(parsed.mediaType).toBe(MediaType.ociManifest);
    expect(out.manifest.layers).toEqual([field]);
  });

  test("a Docker base becomes OCI; a base that already has a field is refused", () => {
    const { manifest, config } = baseImage(1, "docker");
    const out = composeReference({ manifest, config }, field, opts);
    expect(out.manifest.mediaType).toBe(MediaType.ociManifest);
    expect(out.manifest.layers[0]!.mediaType).toBe(MediaType.ociLayerGzip);
    expect(out.manifest.config.digest).toBe(manifest.config.digest);
    expect(() => composeReference({ manifest: out.manifest, config }, field, opts)).toThrow(/already carries/);
  });
});
