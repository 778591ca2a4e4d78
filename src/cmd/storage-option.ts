/** Where `2dfs serve` and `2dfs gc` find the registry: the data folder, or `--storage URL` (an S3 bucket). */
import { homedir } from "node:os";
import { join } from "node:path";
import type { StorageDriver } from "../registry/driver/driver.ts";
import { createS3Driver } from "../registry/driver/s3.ts";
import { S3LocationError, parseS3Url } from "../registry/driver/s3-location.ts";
import { StorageUnavailableError } from "../registry/driver/storage-unavailable.ts";
import { UsageError } from "./errors.ts";

/** `--data`, else `TDFS_REGISTRY_DATA`, else `$XDG_DATA_HOME/2dfs/registry`. */
export function defaultRegistryDir(explicit?: string): string {
  if (explicit) return explicit;
  if (process.env.TDFS_REGISTRY_DATA) return process.env.TDFS_REGISTRY_DATA;
  return join(process.env.XDG_DATA_HOME || join(homedir(), ".local", "share"), "2dfs", "registry");
}

const HINT = "--storage s3://BUCKET[/PREFIX]?endpoint=http://HOST:PORT[&region=R], keys in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY";

/**
 * The driver for `--storage`, checked by listing the bucket once: wrong credentials, a missing
 * bucket or an unreachable endpoint fail here, in one line, rather than on the first request.
 */
export async function openStorage(url: string, data: string | undefined): Promise<{ driver: StorageDriver; where: string }> {
  if (data !== undefined) throw new UsageError("--storage and --data are exclusive: the data is either in a folder or in a bucket", HINT);
  if (!url.startsWith("s3://")) throw new UsageError(`unsupported --storage "${url}": only s3:// URLs (the file system is the default, see --data)`, HINT);
  let driver;
  try {
    driver = createS3Driver(parseS3Url(url));
  } catch (e) {
    if (e instanceof S3LocationError) throw new UsageError(e.message, HINT);
    throw e;
  }
  try {
    await driver.check();
  } catch (e) {
    if (e instanceof StorageUnavailableError) throw new Error(`cannot use ${url.split("?")[0]}: ${e.message}`);
    throw e;
  }
  const { bucket, prefix, endpoint } = driver.location;
  return { driver, where: `s3://${bucket}/${prefix} at ${endpoint}` };
}
