import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { createResumableSha256, createSha256, sha256Bytes } from "../../src/hash/sha256.ts";

const ref = (...parts: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return `sha256:${h.digest("hex")}` as const;
};

const data = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251);

describe("createSha256", () => {
  for (const engine of ["native", "wasm"] as const) {
    test(`${engine} matches node:crypto over chunks`, async () => {
      const h = await createSha256(engine);
      h.update(data.subarray(0, 1));
      h.update(data.subarray(1, 65_537));
      h.update(data.subarray(65_537));
      expect(h.digest()).toBe(ref(data));
    });
    test(`${engine} hashes empty input`, async () => {
      expect((await createSha256(engine)).digest()).toBe(ref(new Uint8Array(0)));
    });
  }
  test("default engine agrees with wasm", async () => {
    const a = await createSha256();
    const b = await createSha256("wasm");
    a.update(data);
    b.update(data);
    expect(a.digest()).toBe(b.digest());
  });
});

describe("sha256Bytes", () => {
  test("bytes and strings", () => {
    expect(sha256Bytes(data)).toBe(ref(data));
    expect(sha256Bytes("héllo")).toBe(ref(new TextEncoder().encode("héllo")));
  });
});

describe("createResumableSha256", () => {
  test("a saved state resumes in a fresh hasher", async () => {
    const first = await createResumableSha256();
    first.update(data.subarray(0, 100_003));
    const state = first.save();
    const copy = new Uint8Array(state); // as if read back from disk
    const resumed = await createResumableSha256(copy);
    resumed.update(data.subarray(100_003));
    expect(resumed.digest()).toBe(ref(data));
    // the original keeps going independently
    first.update(data.subarray(100_003, 200_000));
    expect(first.digest()).toBe(ref(data.subarray(0, 200_000)));
  });
  test("a corrupted state is rejected", async () => {
    const h = await createResumableSha256();
    h.update(data.subarray(0, 10));
    const state = h.save();
    state.fill(0xff, 0, 8);
    await expect(createResumableSha256(state)).rejects.toThrow();
  });
});
