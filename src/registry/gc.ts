/**
 * Garbage collection: mark every blob reachable from the manifests stored in any
 * repository (configs, layers, index children, subjects, and every allotment a
 * reference-format field blob lists, which no descriptor names), then delete the rest.
 * Run it while the registry is stopped or read-only: a push in progress has blobs that
 * no manifest names yet.
 */
import { findReferenceFieldLayer, MAX_FIELD_BLOB_BYTES, parseReferenceField } from "../field/reference-format.ts";
import { type Digest, isDigest } from "../oci/digest.ts";
import type { StorageDriver } from "./driver/driver.ts";
import { createRegistry } from "./registry.ts";
import { listRepositories } from "./services/catalog.ts";
import { blobAlgorithmDir, blobDataPath, repositoryDir, uploadDir } from "./storage/paths.ts";

/** What a collection did (or, with dryRun, would do). */
export interface GcReport {
  deleted: string[];
  kept: number;
  bytesFreed: number;
  /** Upload sessions (`repo/id`) idle for longer than the limit, removed with their data. */
  uploadsDeleted: string[];
}

/** Upload sessions idle longer than this are abandoned: a client resumes within minutes, not days. */
export const DEFAULT_UPLOAD_MAX_AGE_MS = 24 * 3600_000;

/** Thrown when gc cannot know what is referenced (an unreadable manifest or field): nothing is deleted. */
export class GcError extends Error {
  override name = "GcError";
}

/** Marks and sweeps blobs, and removes abandoned upload sessions; with `dryRun` nothing is deleted. */
export async function collectGarbage(driver: StorageDriver, opts: { dryRun: boolean; uploadMaxAgeMs?: number; now?: number }): Promise<GcReport> {
  const registry = createRegistry(driver, { readOnly: true });
  const marked = new Set<string>();
  const repositories = await listRepositories(driver);
  for (const name of repositories) {
    for (const digest of await registry.manifests.revisions(name)) {
      marked.add(digest);
      let stored;
      try {
        stored = await registry.manifests.getByDigest(name, digest);
      } catch (e) {
        throw new GcError(`manifest ${digest} in ${name} is unreadable, so what it references is unknown; nothing was deleted`, { cause: e });
      }
      if (!stored) continue;
      const { parsed } = stored;
      if (parsed.manifest.subject) marked.add(parsed.manifest.subject.digest);
      if (parsed.kind === "index") {
        for (const d of parsed.manifest.manifests) marked.add(d.digest);
        continue;
      }
      marked.add(parsed.manifest.config.digest);
      for (const d of parsed.manifest.layers) marked.add(d.digest);
      const at = findReferenceFieldLayer(parsed.manifest);
      if (at >= 0) await markField(driver, parsed.manifest.layers[at]!.digest, marked);
    }
  }

  const report: GcReport = { deleted: [], kept: 0, bytesFreed: 0, uploadsDeleted: [] };
  await sweepUploads(driver, repositories, opts.uploadMaxAgeMs ?? DEFAULT_UPLOAD_MAX_AGE_MS, opts.now ?? Date.now(), opts.dryRun, report);
  for (const algorithm of await driver.list("blobs")) {
    for (const shard of await driver.list(blobAlgorithmDir(algorithm))) {
      for (const hex of await driver.list(`${blobAlgorithmDir(algorithm)}/${shard}`)) {
        const digest = `${algorithm}:${hex}`;
        if (!isDigest(digest) || marked.has(digest)) {
          report.kept++;
          continue;
        }
        const stat = await driver.stat(blobDataPath(digest));
        report.deleted.push(digest);
        report.bytesFreed += stat?.size ?? 0;
        if (!opts.dryRun) await driver.delete(blobDataPath(digest).slice(0, -"/data".length));
      }
    }
  }
  // Links to swept blobs would otherwise answer HEAD with a blob that is gone.
  if (!opts.dryRun) {
    for (const name of repositories) {
      const layers = `${repositoryDir(name)}/_layers`;
      for (const algorithm of await driver.list(layers)) {
        for (const hex of await driver.list(`${layers}/${algorithm}`)) {
          if (!marked.has(`${algorithm}:${hex}`)) await driver.delete(`${layers}/${algorithm}/${hex}`);
        }
      }
    }
  }
  return report;
}

// A session's age is that of its newest file: every PATCH rewrites its state.
async function sweepUploads(driver: StorageDriver, repositories: string[], maxAgeMs: number, now: number, dryRun: boolean, report: GcReport): Promise<void> {
  for (const name of repositories) {
    const uploads = `${repositoryDir(name)}/_uploads`;
    for (const id of await driver.list(uploads)) {
      const dir = uploadDir(name, id);
      const stats = await Promise.all((await driver.list(dir)).map((f) => driver.stat(`${dir}/${f}`)));
      const newest = Math.max(0, ...stats.map((s) => s?.modified ?? 0));
      if (now - newest <= maxAgeMs) continue;
      report.uploadsDeleted.push(`${name}/${id}`);
      if (!dryRun) await driver.delete(dir);
    }
  }
}

// A field that cannot be read stops the collection: its allotments must never be swept.
async function markField(driver: StorageDriver, field: Digest, marked: Set<string>): Promise<void> {
  const stat = await driver.stat(blobDataPath(field));
  if (!stat) return;
  if (stat.size > MAX_FIELD_BLOB_BYTES) {
    throw new GcError(`field blob ${field} is over ${MAX_FIELD_BLOB_BYTES} bytes, so its allotments cannot be listed; nothing was deleted`);
  }
  try {
    for (const cell of parseReferenceField((await driver.read(blobDataPath(field)))!)) marked.add(cell.digest);
  } catch (e) {
    throw new GcError(`field blob ${field} is malformed (${(e as Error).message}); nothing was deleted`, { cause: e });
  }
}
