import { describe, expect, test } from "bun:test";
import { parseImageConfig } from "../../src/oci/config.ts";
import { parsePlatformString, platformMatches } from "../../src/oci/descriptor.ts";
import { DigestError, isDigest, parseDigest } from "../../src/oci/digest.ts";
import { describeSyntaxError, JsonShapeError } from "../../src/oci/json.ts";
import { MAX_MANIFEST_BYTES, parseManifest } from "../../src/oci/manifest.ts";
import { MediaType } from "../../src/oci/media-types.ts";
import { OciError } from "../../src/oci/errors.ts";

const enc = (v: unknown): Uint8Array<ArrayBuffer> => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));
const D = `sha256:${"b".repeat(64)}` as const;
const desc = (mediaType: string, extra = {}) => ({ mediaType, digest: D, size: 10, ...extra });

describe("digests", () => {
  test("sha256 and sha512 parse; anything else is a DigestError", () => {
    expect(parseDigest(D)).toMatchObject({ algorithm: "sha256", hex: "b".repeat(64) });
    expect(parseDigest(`sha512:${"c".repeat(128)}`).algorithm).toBe("sha512");
    for (const bad of ["sha256:abc", `sha256:${"B".repeat(64)}`, `md5:${"a".repeat(32)}`, "nocolon", `sha512:${"c".repeat(64)}`]) {
      expect(() => parseDigest(bad)).toThrow(DigestError);
      expect(isDigest(bad)).toBe(false);
    }
  });
});

describe("manifests", () => {
  test("OCI manifest keeps its exact bytes and unknown fields", () => {
    const doc = { schemaVersion: 2, mediaType: MediaType.ociManifest, config: desc(MediaType.ociConfig), layers: [desc(MediaType.ociLayer)], extra: { x: 1 } };
    const bytes = enc(doc);
    const parsed = parseManifest(bytes);
    expect(parsed.kind).toBe("image");
    expect(parsed.bytes).toBe(bytes);
    expect(parsed.manifest.extra).toEqual({ x: 1 });
  });

  test("Docker schema 2 manifests and manifest lists are readable", () => {
    const list = parseManifest(enc({ schemaVersion: 2, mediaType: MediaType.dockerManifestList, manifests: [desc(MediaType.dockerManifest, { platform: { os: "linux", architecture: "amd64" } })] }));
    expect(list.kind).toBe("index");
    const manifest = parseManifest(enc({ schemaVersion: 2, mediaType: MediaType.dockerManifest, config: desc(MediaType.dockerConfig), layers: [desc(MediaType.dockerLayerGzip)] }));
    expect(manifest.kind).toBe("image");
  });

  test("a missing mediaType is taken from the declared type or the shape", () => {
    expect(parseManifest(enc({ schemaVersion: 2, manifests: [] })).mediaType).toBe(MediaType.ociIndex);
    expect(parseManifest(enc({ schemaVersion: 2, config: desc(MediaType.ociConfig), layers: [] }), MediaType.dockerManifest).mediaType).toBe(MediaType.dockerManifest);
  });

  const bad: [string, unknown, RegExp][] = [
    ["not JSON", "{", /invalid JSON/],
    ["schemaVersion 1", { schemaVersion: 1 }, /schemaVersion/],
    ["bad layer digest", { schemaVersion: 2, mediaType: MediaType.ociManifest, config: desc(MediaType.ociConfig), layers: [{ ...desc(MediaType.ociLayer), digest: "sha256:zz" }] }, /layers\[0\]\.digest/],
    ["negative size", { schemaVersion: 2, mediaType: MediaType.ociManifest, config: { ...desc(MediaType.ociConfig), size: -1 }, layers: [] }, /config\.size/],
    ["layers not a list", { schemaVersion: 2, mediaType: MediaType.ociManifest, config: desc(MediaType.ociConfig), layers: {} }, /layers: must be a list/],
    ["mismatched declared type", { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] }, /does not match the declared type/],
    ["unknown media type", { schemaVersion: 2, mediaType: "text/plain" }, /unsupported manifest media type/],
  ];
  for (const [name, doc, message] of bad) {
    test(`rejects: ${name}`, () => {
      const declared = name === "mismatched declared type" ? MediaType.ociManifest : undefined;
      expect(() => parseManifest(enc(doc), declared)).toThrow(JsonShapeError);
      expect(() => parseManifest(enc(doc), declared)).toThrow(message);
    });
  }

  test("over 4 MiB is refused before parsing", () => {
    expect(() => parseManifest(new Uint8Array(MAX_MANIFEST_BYTES + 1))).toThrow(/over the 4194304 byte limit/);
  });

  test("JSON syntax errors name line and column", () => {
    const text = '{\n  "a": 1,\n  "b": ]\n}';
    let message = "";
    try {
      JSON.parse(text);
    } catch (e) {
      message = describeSyntaxError(e, text);
    }
    expect(message).toMatch(/line 3, column 8/);
  });
});

describe("configs and platforms", () => {
  test("config needs os, architecture and rootfs.diff_ids", () => {
    expect(parseImageConfig(enc({ os: "linux", architecture: "amd64", rootfs: { type: "layers", diff_ids: [D] } })).rootfs.diff_ids).toEqual([D]);
    expect(() => parseImageConfig(enc({ os: "linux", architecture: "amd64" }))).toThrow(/rootfs/);
    expect(() => parseImageConfig(enc({ os: "linux", architecture: "amd64", rootfs: { type: "layers", diff_ids: ["x"] } }))).toThrow();
  });

  test("platform strings and matching", () => {
    expect(parsePlatformString("linux/arm64/v8")).toEqual({ os: "linux", architecture: "arm64", variant: "v8" });
    expect(() => parsePlatformString("linux")).toThrow(/os\/arch/);
    expect(platformMatches({ os: "linux", architecture: "arm64", variant: "v8" }, { os: "linux", architecture: "arm64" })).toBe(true);
    expect(platformMatches({ os: "linux", architecture: "arm64" }, { os: "linux", architecture: "arm64", variant: "v8" })).toBe(false);
  });

  test("OciError serialises the spec's envelope", () => {
    const e = new OciError("MANIFEST_UNKNOWN", "empty selection");
    expect(e.status).toBe(404);
    expect(e.toJSON()).toEqual({ errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown to registry", detail: "empty selection" }] });
  });
});
