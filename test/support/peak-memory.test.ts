/** The peak-memory helper the memory limits are checked with: it must see a child's own peak, and only that. */
import { expect, test } from "bun:test";
import { runMeasured } from "./peak-memory.ts";

test("reports a child's own peak, not the test runner's", async () => {
  const held = new Uint8Array(300 << 20).fill(1); // the runner is large now
  const small = await runMeasured(["true"]);
  expect(small.code).toBe(0);
  expect(small.peakMb).toBeLessThan(50);
  const big = await runMeasured([process.execPath, "-e", "const b = new Uint8Array(200 << 20).fill(1); console.log(b[5])"]);
  expect(big.code).toBe(0);
  expect(big.peakMb).toBeGreaterThan(200);
  expect(big.peakMb).toBeLessThan(200 + 150);
  expect(held[1]).toBe(1);
});
