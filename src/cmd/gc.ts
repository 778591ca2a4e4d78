/** `2dfs gc`: deletes blobs no stored manifest (or field) references. */
import { existsSync } from "node:fs";
import { createFilesystemDriver } from "../registry/driver/filesystem.ts";
import { collectGarbage } from "../registry/gc.ts";
import { UsageError } from "./errors.ts";
import { defaultRegistryDir, openStorage } from "./storage-option.ts";

/** Flags of `2dfs gc`. */
export interface GcFlags {
  data?: string;
  /** `s3://...` as for `2dfs serve --storage`. */
  storage?: string;
  dryRun?: boolean;
  json?: boolean;
  uploadMaxAge?: number | string;
}

/** Runs one collection and prints what was (or would be) deleted. */
export async function gcCommand(flags: GcFlags): Promise<void> {
  let driver;
  if (flags.storage !== undefined) driver = (await openStorage(flags.storage, flags.data)).driver;
  else {
    const dir = defaultRegistryDir(flags.data);
    if (!existsSync(dir)) throw new UsageError(`no registry data at ${dir}`, "2dfs gc --data DIR [--dry-run]");
    driver = createFilesystemDriver(dir);
  }
  const hours = flags.uploadMaxAge === undefined ? 24 : Number(flags.uploadMaxAge);
  if (!Number.isFinite(hours) || hours < 0) throw new UsageError(`--upload-max-age must be a number of hours, got "${flags.uploadMaxAge}"`);
  const report = await collectGarbage(driver, { dryRun: Boolean(flags.dryRun), uploadMaxAgeMs: hours * 3600_000 });
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ ...report, dryRun: Boolean(flags.dryRun) })}\n`);
    return;
  }
  const verb = flags.dryRun ? "would delete" : "deleted";
  for (const digest of report.deleted) process.stdout.write(`${verb} ${digest}\n`);
  const mb = (report.bytesFreed / 1e6).toFixed(1);
  for (const upload of report.uploadsDeleted) process.stdout.write(`${verb} abandoned upload ${upload}\n`);
  process.stderr.write(`${verb} ${report.deleted.length} blobs (${mb} MB) and ${report.uploadsDeleted.length} abandoned uploads, kept ${report.kept}\n`);
}
