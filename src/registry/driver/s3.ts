/**
 * A storage driver over S3-compatible object storage (tested on Ceph's RADOS Gateway), on Bun's
 * built-in S3 client: writes, multipart streams, stats, lists and deletes go through it; reads
 * and server-side copies go through presigned URLs with fetch, which give the response's headers
 * (Bun's client hides them) and can send the headers Bun's client cannot (x-amz-copy-source).
 *
 * S3 has no append. A file that is appended to (an upload session's data) is a small "segment
 * list" object at its path, marked by its content type, naming one object per appended chunk
 * (`.seg-*` keys beside it, hidden from list()). Every instance sees the same list, so a chunk
 * may go to any replica; moving such a file to its final place (an upload's commit) streams the
 * segments, in order, into one object (multipart when large), or copies a single segment on the
 * server. Concurrent appends to one path from two processes are not supported: upload sessions
 * are ordered by their offsets, so a client never sends them.
 */
import { type AppendSource, type ObjectStat, type StorageDriver, parseStoragePath } from "./driver.ts";
import type { S3Location } from "./s3-location.ts";
import { StorageUnavailableError } from "./storage-unavailable.ts";

/** Content type of a segment list object. */
const SEGMENTS_TYPE = "application/vnd.2dfs.segments.v1+json";
/** Segment objects' names start with this; list() hides them. */
const SEGMENT_PREFIX = ".seg-";
/** Multipart part size of streamed writes: Bun refuses parts under 5 MiB. */
const PART_SIZE = 8 << 20;
/** S3's limit for a single-request server-side copy. */
const MAX_COPY_BYTES = 5 * 1024 ** 3;
/** How many deletes run at once when a folder goes. */
const DELETE_PARALLEL = 16;

interface Segment {
  /** Key relative to the store's prefix. */
  key: string;
  size: number;
}

/** An S3 driver, plus what only a remote store has. */
export interface S3Driver extends StorageDriver {
  /** Lists one key: throws StorageUnavailableError naming wrong credentials, a missing bucket or an unreachable endpoint. */
  check(timeoutMs?: number): Promise<void>;
  /** A presigned GET URL of a stored file, valid for `seconds` (always present here). */
  directUrl(path: string, seconds: number): string;
  readonly location: S3Location;
}

/** Creates a driver storing under `s3://bucket/prefix/` at the location's endpoint. */
export function createS3Driver(location: S3Location): S3Driver {
  const client = new Bun.S3Client({
    endpoint: location.endpoint,
    bucket: location.bucket,
    region: location.region,
    accessKeyId: location.accessKeyId,
    secretAccessKey: location.secretAccessKey,
  });
  const base = location.prefix === "" ? "" : `${location.prefix}/`;
  const keyOf = (path: string) => base + parseStoragePath(path);
  const where = `${location.endpoint}/${location.bucket}`;

  // Every failure of the store itself (a 5xx, a refused connection, refused credentials) says
  // so in one way; the routes answer it with 503 and its text.
  const unavailable = (what: string, e: unknown): StorageUnavailableError => {
    if (e instanceof StorageUnavailableError) return e;
    const code = (e as { code?: string })?.code;
    const text = code && code !== "UnknownError" ? code : e instanceof Error ? e.message.split("\n")[0]!.slice(0, 200) : String(e);
    return new StorageUnavailableError(`object storage ${where} failed to ${what} (${text})`, { cause: e });
  };
  const guard = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      throw unavailable(what, e);
    }
  };
  const isNoSuchKey = (e: unknown) => (e as { code?: string })?.code === "NoSuchKey";

  // A presigned request: the store's status decides, and a 5xx or an auth refusal is the store's failure.
  const signed = async (key: string, method: "GET" | "PUT", what: string, init: { headers?: Record<string, string>; body?: Uint8Array } = {}): Promise<Response> => {
    let response: Response;
    try {
      response = await fetch(client.presign(key, { method, expiresIn: 600 }), { method, headers: init.headers, body: init.body });
    } catch (e) {
      throw unavailable(what, e);
    }
    if (response.status >= 500 || response.status === 403 || response.status === 401) {
      const text = await response.text().catch(() => "");
      const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? `HTTP ${response.status}`;
      throw new StorageUnavailableError(`object storage ${where} failed to ${what} (${code})`);
    }
    return response;
  };
  // A GET of one object: undefined when there is none; any other failure throws (a 416 is the caller's).
  const getObject = async (key: string, headers?: Record<string, string>): Promise<Response | undefined> => {
    const r = await signed(key, "GET", `read ${key}`, { headers });
    if (r.status === 404) {
      // A missing bucket is a broken store, not a missing file.
      if ((await r.text()).includes("<Code>NoSuchBucket</Code>")) throw new StorageUnavailableError(`object storage ${where} failed to read ${key} (NoSuchBucket)`);
      return undefined;
    }
    if (!r.ok && r.status !== 416) throw new StorageUnavailableError(`object storage ${where} failed to read ${key} (HTTP ${r.status})`);
    return r;
  };

  const headOf = async (key: string): Promise<{ size: number; modified: number; segmented: boolean } | undefined> => {
    try {
      const s = await client.stat(key);
      return { size: s.size, modified: s.lastModified.getTime(), segmented: s.type === SEGMENTS_TYPE };
    } catch (e) {
      if (isNoSuchKey(e)) return undefined;
      throw unavailable(`stat ${key}`, e);
    }
  };

  const readSegments = async (key: string): Promise<Segment[] | undefined> => {
    const r = await getObject(key);
    if (!r) return undefined;
    if (r.headers.get("content-type") !== SEGMENTS_TYPE) {
      await r.body?.cancel();
      return undefined;
    }
    return (JSON.parse(await r.text()) as { segments: Segment[] }).segments;
  };
  const writeSegments = (key: string, segments: Segment[]) =>
    guard(`write ${key}`, () => client.write(key, JSON.stringify({ segments }), { type: SEGMENTS_TYPE }));

  // A new segment key beside `key`, so that deleting the folder takes its segments along.
  const newSegmentKey = (key: string): string => {
    const slash = key.lastIndexOf("/");
    return `${key.slice(0, slash + 1)}${SEGMENT_PREFIX}${key.slice(slash + 1)}-${crypto.randomUUID()}`;
  };

  // Streams `source` into one object (multipart above PART_SIZE); returns the byte count.
  const streamTo = async (key: string, source: AsyncIterable<Uint8Array>): Promise<number> => {
    const writer = client.file(key).writer({ partSize: PART_SIZE, queueSize: 2 });
    let n = 0;
    try {
      for await (const chunk of source) {
        n += chunk.byteLength;
        await writer.write(chunk);
      }
    } catch (e) {
      // Aborts the multipart upload: nothing half-written becomes visible at `key`.
      await Promise.resolve(writer.end(e as Error)).catch(() => undefined);
      throw e;
    }
    await guard(`write ${key}`, async () => void (await writer.end()));
    return n;
  };

  // Bytes [from, to) of one plain object.
  async function* rangeOf(key: string, from: number, to?: number): AsyncGenerator<Uint8Array> {
    if (to !== undefined && to <= from) return;
    const headers: Record<string, string> = {};
    if (from > 0 || to !== undefined) headers.range = `bytes=${from}-${to === undefined ? "" : to - 1}`;
    const r = await getObject(key, headers);
    if (!r) throw new Error(`no such object: ${key}`);
    // The range applied to a segment list's own text, or ran past it (416): read the list whole.
    if (r.status === 416 || r.headers.get("content-type") === SEGMENTS_TYPE) {
      await r.body?.cancel();
      const segments = await readSegments(key);
      if (segments) yield* segmentsRange(segments, from, to);
      return; // a plain object read from its end: nothing
    }
    try {
      for await (const chunk of r.body!) yield chunk;
    } catch (e) {
      throw unavailable(`read ${key}`, e);
    }
  }
  async function* segmentsRange(segments: Segment[], from: number, to?: number): AsyncGenerator<Uint8Array> {
    let at = 0;
    for (const s of segments) {
      const start = Math.max(from, at);
      const end = to === undefined ? at + s.size : Math.min(to, at + s.size);
      if (start < end) yield* rangeOf(base + s.key, start - at, end - at);
      at += s.size;
    }
  }

  // Every key under a folder key (with its slash), all pages.
  const keysUnder = async (folder: string): Promise<string[]> => {
    const keys: string[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await guard(`list ${folder}`, () => client.list({ prefix: folder, continuationToken, maxKeys: 1000 }));
      for (const c of page.contents ?? []) keys.push(c.key);
      continuationToken = page.isTruncated ? page.nextContinuationToken : undefined;
    } while (continuationToken);
    return keys;
  };
  const deleteKeys = async (keys: string[]): Promise<void> => {
    for (let i = 0; i < keys.length; i += DELETE_PARALLEL) {
      await Promise.all(
        keys.slice(i, i + DELETE_PARALLEL).map((k) =>
          guard(`delete ${k}`, async () => {
            try {
              await client.delete(k);
            } catch (e) {
              if (!isNoSuchKey(e)) throw e;
            }
          }),
        ),
      );
    }
  };

  // Server-side copy of one object (no bytes through this process).
  const copyObject = async (from: string, to: string): Promise<void> => {
    const source = `/${location.bucket}/${from.split("/").map(encodeURIComponent).join("/")}`;
    const r = await signed(to, "PUT", `copy ${from} to ${to}`, { headers: { "x-amz-copy-source": source } });
    const text = await r.text();
    // S3 may answer 200 with an error document for a copy that failed late.
    if (!r.ok || text.includes("<Error>")) throw new StorageUnavailableError(`object storage ${where} failed to copy ${from} to ${to} (HTTP ${r.status})`);
  };

  const segmentsOf = async (key: string): Promise<{ segments: Segment[]; plain?: { size: number } } | undefined> => {
    const head = await headOf(key);
    if (!head) return undefined;
    if (!head.segmented) return { segments: [], plain: { size: head.size } };
    return { segments: (await readSegments(key)) ?? [] };
  };

  const driver: S3Driver = {
    location,
    // Each append is a segment object plus a rewritten segment list.
    appendBatchBytes: PART_SIZE,
    async stat(path): Promise<ObjectStat | undefined> {
      const key = keyOf(path);
      const head = await headOf(key);
      if (!head) return undefined;
      if (!head.segmented) return { size: head.size, modified: head.modified };
      const segments = (await readSegments(key)) ?? [];
      return { size: segments.reduce((n, s) => n + s.size, 0), modified: head.modified };
    },
    async read(path) {
      const key = keyOf(path);
      const r = await getObject(key);
      if (!r) return undefined;
      if (r.headers.get("content-type") === SEGMENTS_TYPE) {
        const { segments } = JSON.parse(await r.text()) as { segments: Segment[] };
        return new Uint8Array(await new Response(streamOf(segmentsRange(segments, 0))).arrayBuffer());
      }
      return guard(`read ${key}`, async () => new Uint8Array(await r.arrayBuffer()));
    },
    reader(path, offset = 0, end) {
      return streamOf(rangeOf(keyOf(path), offset, end));
    },
    async write(path, bytes) {
      const key = keyOf(path);
      // A Uint8Array is sent as one PUT: S3 makes it visible whole or not at all.
      await guard(`write ${key}`, () => client.write(key, bytes));
    },
    async append(path, data: AppendSource) {
      const key = keyOf(path);
      const current = await segmentsOf(key);
      const segments = current?.segments ?? [];
      if (current?.plain && current.plain.size > 0) {
        // A plain file becomes the first segment of its list.
        const first = newSegmentKey(key);
        await copyObject(key, first);
        segments.push({ key: first.slice(base.length), size: current.plain.size });
      }
      const segmentKey = newSegmentKey(key);
      let size: number;
      if (data instanceof Uint8Array) {
        size = data.byteLength;
        if (size > 0) await guard(`write ${segmentKey}`, () => client.write(segmentKey, data));
      } else {
        size = await streamTo(segmentKey, data);
        if (size === 0) await deleteKeys([segmentKey]);
      }
      if (size > 0) segments.push({ key: segmentKey.slice(base.length), size });
      await writeSegments(key, segments);
      return segments.reduce((n, s) => n + s.size, 0);
    },
    async truncate(path, size) {
      const key = keyOf(path);
      const current = await segmentsOf(key);
      if (!current) return;
      if (current.plain) {
        if (current.plain.size > size) await guard(`write ${key}`, async () => void (await client.write(key, await driver.read(path).then((b) => b!.slice(0, size)))));
        return;
      }
      const kept: Segment[] = [];
      const dropped: string[] = [];
      let at = 0;
      for (const s of current.segments) {
        if (at + s.size <= size) kept.push(s);
        else {
          if (at < size) {
            // A segment cut in the middle is rewritten shorter, under a new key.
            const shorter = newSegmentKey(key);
            await streamTo(shorter, rangeOf(base + s.key, 0, size - at));
            kept.push({ key: shorter.slice(base.length), size: size - at });
          }
          dropped.push(base + s.key);
        }
        at += s.size;
      }
      if (dropped.length === 0) return;
      await writeSegments(key, kept);
      await deleteKeys(dropped);
    },
    async move(from, to) {
      const fromKey = keyOf(from);
      const toKey = keyOf(to);
      const current = await segmentsOf(fromKey);
      if (!current) throw new Error(`no such object: ${from}`);
      if (current.plain) {
        if (current.plain.size <= MAX_COPY_BYTES) await copyObject(fromKey, toKey);
        else await streamTo(toKey, rangeOf(fromKey, 0));
        await deleteKeys([fromKey]);
        return;
      }
      const { segments } = current;
      if (segments.length === 0) await guard(`write ${toKey}`, () => client.write(toKey, new Uint8Array(0)));
      else if (segments.length === 1 && segments[0]!.size <= MAX_COPY_BYTES) await copyObject(base + segments[0]!.key, toKey);
      // Bytes are read back from the store once and written as one object; never hashed here.
      else await streamTo(toKey, segmentsRange(segments, 0));
      await deleteKeys([fromKey, ...segments.map((s) => base + s.key)]);
    },
    async delete(path) {
      const key = keyOf(path);
      const keys = key === "" ? [] : [key];
      if (key !== "") {
        const segments = (await headOf(key))?.segmented ? ((await readSegments(key)) ?? []) : [];
        keys.push(...segments.map((s) => base + s.key));
      }
      keys.push(...(await keysUnder(key === "" ? base : `${key}/`)));
      await deleteKeys(keys);
    },
    async list(prefix) {
      const key = keyOf(prefix);
      const folder = key === "" ? base : `${key}/`;
      const names = new Set<string>();
      let continuationToken: string | undefined;
      do {
        const page = await guard(`list ${folder}`, () => client.list({ prefix: folder, delimiter: "/", continuationToken, maxKeys: 1000 }));
        for (const c of page.contents ?? []) names.add(c.key.slice(folder.length));
        for (const p of page.commonPrefixes ?? []) names.add(p.prefix.slice(folder.length).replace(/\/$/, ""));
        continuationToken = page.isTruncated ? page.nextContinuationToken : undefined;
      } while (continuationToken);
      return [...names].filter((n) => n !== "" && !n.startsWith(SEGMENT_PREFIX)).sort();
    },
    directUrl(path, seconds) {
      return client.presign(keyOf(path), { method: "GET", expiresIn: seconds });
    },
    async check(timeoutMs = 10_000) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new StorageUnavailableError(`object storage ${location.endpoint} did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
      });
      try {
        await Promise.race([client.list({ prefix: base, maxKeys: 1 }), timeout]);
      } catch (e) {
        if (e instanceof StorageUnavailableError) throw e;
        const code = (e as { code?: string })?.code ?? "";
        if (code === "NoSuchBucket") throw new StorageUnavailableError(`bucket "${location.bucket}" does not exist at ${location.endpoint}`);
        if (/InvalidAccessKeyId|SignatureDoesNotMatch|AccessDenied|Forbidden/.test(code)) {
          throw new StorageUnavailableError(`object storage ${location.endpoint} refused the credentials for bucket "${location.bucket}" (${code})`);
        }
        if (/Connection|ECONN|Timeout|Unable|DNS|Refused/i.test(code) || code === "UnknownError" || code === "") {
          throw new StorageUnavailableError(`cannot reach object storage at ${location.endpoint} (${code || (e as Error).message})`);
        }
        throw unavailable(`list bucket "${location.bucket}"`, e);
      } finally {
        clearTimeout(timer);
      }
    },
  };
  return driver;
}

// A pull stream over an async generator: nothing is fetched before the consumer asks.
function streamOf(source: AsyncGenerator<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { value, done } = await source.next();
          if (done) controller.close();
          else controller.enqueue(value);
        } catch (e) {
          controller.error(e);
        }
      },
      async cancel() {
        await source.return(undefined);
      },
    },
    { highWaterMark: 0 },
  );
}
