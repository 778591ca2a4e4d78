/** The conformance suite every storage driver must pass. */
import { describe, expect, test } from "bun:test";
import type { StorageDriver } from "../../../src/registry/driver/driver.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

async function drain(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(stream).text();
}

/** Runs the shared driver tests against drivers made by `make` (a fresh, empty store each time). */
export function runDriverSuite(name: string, make: () => Promise<StorageDriver>): void {
  describe(`storage driver: ${name}`, () => {
    test("write, read, stat, overwrite", async () => {
      const d = await make();
      expect(await d.read("a/b/c")).toBeUndefined();
      expect(await d.stat("a/b/c")).toBeUndefined();
      await d.write("a/b/c", enc("hello"));
      expect(dec(await d.read("a/b/c"))).toBe("hello");
      const s = await d.stat("a/b/c");
      expect(s?.size).toBe(5);
      expect(s!.modified).toBeGreaterThan(0);
      await d.write("a/b/c", enc("bye"));
      expect(dec(await d.read("a/b/c"))).toBe("bye");
      expect(await d.stat("a/b")).toBeUndefined();
    });

    test("append bytes and streams, returning the new size", async () => {
      const d = await make();
      expect(await d.append("up/data", enc("ab"))).toBe(2);
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(enc("cd"));
          c.enqueue(enc("efg"));
          c.close();
        },
      });
      expect(await d.append("up/data", stream)).toBe(7);
      expect(dec(await d.read("up/data"))).toBe("abcdefg");
      await d.truncate("up/data", 3);
      expect(dec(await d.read("up/data"))).toBe("abc");
      await d.truncate("up/data", 10);
      expect((await d.stat("up/data"))?.size).toBe(3);
    });

    test("reader with offset and end", async () => {
      const d = await make();
      await d.write("f", enc("0123456789"));
      expect(await drain(d.reader("f"))).toBe("0123456789");
      expect(await drain(d.reader("f", 3))).toBe("3456789");
      expect(await drain(d.reader("f", 3, 6))).toBe("345");
    });

    test("move replaces the target and removes the source", async () => {
      const d = await make();
      await d.write("x/from", enc("new"));
      await d.write("y/to", enc("old"));
      await d.move("x/from", "y/to");
      expect(dec(await d.read("y/to"))).toBe("new");
      expect(await d.read("x/from")).toBeUndefined();
      await d.move("y/to", "z/deep/er/to");
      expect(dec(await d.read("z/deep/er/to"))).toBe("new");
    });

    test("list gives sorted direct children; delete removes files and folders", async () => {
      const d = await make();
      await d.write("r/b/1", enc("1"));
      await d.write("r/a", enc("2"));
      await d.write("r/b/c/2", enc("3"));
      await d.write("rr/x", enc("4"));
      expect(await d.list("r")).toEqual(["a", "b"]);
      expect(await d.list("r/b")).toEqual(["1", "c"]);
      expect(await d.list("missing")).toEqual([]);
      await d.delete("r/b");
      expect(await d.list("r")).toEqual(["a"]);
      expect(await d.read("r/b/c/2")).toBeUndefined();
      expect(dec(await d.read("rr/x"))).toBe("4");
      await d.delete("r/a");
      await d.delete("nothing/here");
      expect(await d.read("r/a")).toBeUndefined();
    });

    test("rejects paths that escape the store", async () => {
      const d = await make();
      await expect(d.write("../evil", enc("x"))).rejects.toThrow(/invalid storage path/);
      await expect(d.read("/etc/passwd")).rejects.toThrow(/invalid storage path/);
      await expect(d.stat("a/../../b")).rejects.toThrow(/invalid storage path/);
    });

    test("large appends stay byte-exact", async () => {
      const d = await make();
      const chunk = new Uint8Array(1 << 20).map((_, i) => i % 251);
      for (let i = 0; i < 4; i++) await d.append("big", chunk);
      expect((await d.stat("big"))?.size).toBe(4 << 20);
      const tail = new Uint8Array(await new Response(d.reader("big", (4 << 20) - 10)).arrayBuffer());
      expect([...tail]).toEqual([...chunk.slice(-10)]);
    });
  });
}
