/** `2dfs image ls|inspect|rm|prune`: the local store. */
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { loadImage, type PlatformImage } from "../content/image-graph.ts";
import { createLayoutStore, type LayoutStore, NotInStoreError } from "../content/layout-store.ts";
import { defaultStoreDir } from "../content/paths.ts";
import { collectReachable } from "../content/reachable.ts";
import { findNativeField } from "../field/native-format.ts";
import { findReferenceFieldLayer, MAX_FIELD_BLOB_BYTES, parseReferenceField } from "../field/reference-format.ts";
import { listTarFiles } from "../archive/list-tar.ts";
import { detectFileCompression, type Compression } from "../archive/compress.ts";
import type { AutoDecision } from "../archive/auto-compression.ts";
import { pruneAutoDecisions, readAutoDecisions } from "../builder/auto-decisions.ts";
import { toPlatformString } from "../oci/descriptor.ts";
import type { Digest } from "../oci/digest.ts";
import { UsageError } from "./errors.ts";
import { formatBytes } from "../util/format-bytes.ts";
import { writeTo } from "../util/terminal.ts";
import { drawFieldGrid, type GridCell } from "./field-grid.ts";

/** Blobs younger than this are never pruned by default (a concurrent build may be about to reference them). */
const DEFAULT_GRACE_SECONDS = 3600;

/** Flags shared by the image subcommands. */
export interface ImageFlags {
  store?: string;
  json?: boolean;
  dryRun?: boolean;
  grace?: number | string;
}

/** Dispatches `2dfs image <action>`. */
export async function imageCommand(action: string, refs: string[], flags: ImageFlags): Promise<void> {
  const store = await createLayoutStore(defaultStoreDir(flags.store));
  switch (action) {
    case "ls":
    case "list":
      return listImages(store, flags);
    case "inspect":
      if (refs.length === 0) throw new UsageError("image inspect needs an image name", "2dfs image inspect NAME:TAG");
      for (const ref of refs) await inspectImage(store, ref, flags);
      return;
    case "rm":
      if (refs.length === 0) throw new UsageError("image rm needs an image name", "2dfs image rm NAME:TAG");
      for (const ref of refs) {
        if (!(await store.removeImage(ref))) throw new NotInStoreError(`no image named "${ref}" in ${store.root}`);
        console.log(`removed ${ref}`);
      }
      return;
    case "prune":
      return pruneStore(store, flags);
    default:
      throw new UsageError(`unknown image action "${action}"`, "2dfs image ls|inspect|rm|prune");
  }
}

// One unreadable image (a damaged or oversized blob) is named on stderr and skipped, like
// `docker images` does, so it cannot hide the rest of the store; the exit code stays 0.
async function listImages(store: LayoutStore, flags: ImageFlags): Promise<void> {
  const rows = [];
  for (const { name, descriptor } of await store.images()) {
    try {
      const image = await loadImage(store, descriptor);
      const first = image.platforms[0];
      const field = first ? await readImageField(store, first) : undefined;
      const allotments = field?.cells.length ?? 0;
      const size = first && field ? await imageSize(store, first, field) : 0;
      rows.push({ name, digest: descriptor.digest, platforms: image.platforms.map((p) => toPlatformString(p.platform)), allotments, size });
    } catch (error) {
      writeTo(2, `warning: skipped ${name} (${descriptor.digest}): ${(error as Error).message ?? String(error)}\n`);
    }
  }
  if (flags.json) {
    console.log(JSON.stringify(rows));
    return;
  }
  const lines = [["NAME", "DIGEST", "PLATFORMS", "ALLOTMENTS", "SIZE"]];
  for (const r of rows) lines.push([r.name, r.digest.slice(7, 19), r.platforms.join(","), String(r.allotments), formatBytes(r.size)]);
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  for (const l of lines) console.log(l.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd());
}

/** A platform image's field as `image ls` and `inspect` show it, read once. */
interface ImageField {
  /** "reference", "native 2DFS", "plain OCI", ... */
  format: string;
  cells: { row: number; col: number; digest: Digest; size?: number }[];
  /** Index of the reference field blob among the manifest's layers, -1 for none. */
  fieldLayer: number;
}

// The field of a platform image in either format (a reference field is read from its blob; a
// native field by the whole order of authority, so a Docker re-push is still seen as one).
async function readImageField(store: LayoutStore, image: PlatformImage): Promise<ImageField> {
  const at = findReferenceFieldLayer(image.manifest);
  if (at >= 0) {
    const cells = parseReferenceField(await store.readBlob(image.manifest.layers[at]!.digest, MAX_FIELD_BLOB_BYTES));
    return { format: "reference", cells, fieldLayer: at };
  }
  const field = findNativeField(image.manifest, image.config);
  if (!field) return { format: "plain OCI", cells: [], fieldLayer: -1 };
  return {
    format: field.source === "history" ? "native 2DFS (recovered from the config history)" : "native 2DFS",
    cells: field.allotments.map((a) => ({ row: a.row, col: a.col, digest: a.layer.digest, size: a.layer.size })),
    fieldLayer: -1,
  };
}

// What pulling the image moves: its layers, where a reference field counts its allotments (which
// no manifest lists) instead of the field blob.
async function imageSize(store: LayoutStore, image: PlatformImage, field: ImageField): Promise<number> {
  const layers = image.manifest.layers.reduce((n, l, i) => (i === field.fieldLayer ? n : n + l.size), 0);
  if (field.fieldLayer < 0) return layers;
  let allotments = 0;
  for (const c of field.cells) allotments += c.size ?? (await store.blobSize(c.digest)) ?? 0;
  return layers + allotments;
}

async function inspectImage(store: LayoutStore, name: string, flags: ImageFlags): Promise<void> {
  const descriptor = await store.resolve(name);
  if (!descriptor) throw new NotInStoreError(`no image named "${name}" in ${store.root}`, { cause: "try 2dfs image ls" });
  const image = await loadImage(store, descriptor);
  const out = { name, descriptor, platforms: [] as unknown[] };
  for (const platform of image.platforms) {
    const field = await readImageField(store, platform);
    const cells: (GridCell & CellCompression)[] = [];
    const decisions = readAutoDecisions(store, platform.descriptor.digest);
    for (const cell of field.cells) {
      const path = store.blobPath(cell.digest);
      const stored = await detectFileCompression(path);
      const files = await listTarFiles(path, stored);
      const size = cell.size ?? (await store.blobSize(cell.digest)) ?? 0;
      const fileBytes = files.reduce((n, f) => n + f.size, 0);
      const auto = decisions[cell.digest];
      const compression = { compression: stored, storedRatio: fileBytes ? round4(size / fileBytes) : 1, ...(auto ? { auto } : {}) };
      cells.push({ row: cell.row, col: cell.col, digest: cell.digest, size, files, ...compression });
    }
    out.platforms.push({ platform: platform.platform, manifest: platform.manifest, config: platform.config, field: cells });
    if (!flags.json) {
      console.log(`${name}  ${descriptor.digest}  ${toPlatformString(platform.platform)}`);
      console.log(`  manifest ${platform.descriptor.digest}  ${platform.manifest.layers.length} layers, format ${field.format}`);
      console.log(`  config   ${platform.manifest.config.digest}  ${platform.config.os}/${platform.config.architecture}`);
      console.log(cells.length ? drawFieldGrid(cells) : "  (no field)");
      if (cells.length) console.log(describeCompression(cells));
    }
  }
  if (flags.json) console.log(JSON.stringify(out, null, 2));
}

/** How an allotment is stored; `auto` is what the build that wrote it here decided (absent for pulled layers). */
interface CellCompression {
  compression: Compression;
  /** Stored bytes / bytes of its files. */
  storedRatio: number;
  auto?: AutoDecision;
}

const round4 = (x: number) => Math.round(x * 10_000) / 10_000;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

function describeCompression(cells: (GridCell & CellCompression)[]): string {
  const lines = ["  compression (stored size as a share of the files' bytes; auto: the build's sample and threshold)"];
  for (const c of [...cells].sort((a, b) => a.row - b.row || a.col - b.col)) {
    const auto = c.auto
      ? `  auto: sample ${pct(c.auto.sampleRatio)} by ${c.auto.estimator}, compressed when <= ${pct(1 - c.auto.minSaving)}${c.auto.level !== undefined ? `, at level ${c.auto.level}` : ""}`
      : "";
    lines.push(`    ${`${c.row}.${c.col}`.padEnd(7)} ${c.compression.padEnd(4)} ${pct(c.storedRatio).padStart(6)}${auto}`);
  }
  return lines.join("\n");
}

async function pruneStore(store: LayoutStore, flags: ImageFlags): Promise<void> {
  const graceSeconds = flags.grace === undefined ? DEFAULT_GRACE_SECONDS : Number(flags.grace);
  if (!Number.isFinite(graceSeconds) || graceSeconds < 0) throw new UsageError(`--grace must be a number of seconds, got "${flags.grace}"`);
  const keep = new Set<string>();
  for (const { descriptor } of await store.images()) await collectReachable(store, descriptor, keep);
  let freed = 0;
  let removed = 0;
  for (const algorithm of await readdir(join(store.root, "blobs"))) {
    for (const hex of await readdir(join(store.root, "blobs", algorithm))) {
      if (keep.has(`${algorithm}:${hex}`)) continue;
      const path = join(store.root, "blobs", algorithm, hex);
      const info = await stat(path);
      // A build in progress writes its blobs before it names the image: leave recent ones.
      if (Date.now() - info.mtimeMs < graceSeconds * 1000) continue;
      freed += info.size;
      removed++;
      if (!flags.dryRun) await rm(path, { force: true });
    }
  }
  if (!flags.dryRun) pruneAutoDecisions(store, keep, graceSeconds * 1000);
  // Temp files of builds that crashed; a running build's files are younger than an hour.
  const tmp = join(store.stateDir, "tmp");
  for (const entry of await readdir(tmp).catch(() => [])) {
    const info = await stat(join(tmp, entry)).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > 3600_000 && !flags.dryRun) await rm(join(tmp, entry), { force: true });
  }
  console.log(`${flags.dryRun ? "would remove" : "removed"} ${removed} blobs, ${formatBytes(freed)}; kept ${keep.size}`);
}
