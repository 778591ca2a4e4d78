/** `2dfs push NAME:TAG [DEST]`: an image of the local store to any registry. */
import { createLayoutStore } from "../content/layout-store.ts";
import { defaultStoreDir } from "../content/paths.ts";
import { parseReference, toFamiliarString } from "../oci/reference.ts";
import { createReporter } from "../client/progress-reporter.ts";
import { pushImage } from "../client/push-image.ts";
import { createRegistryClient } from "../client/transport/registry-client.ts";
import { parseByteSize } from "../util/byte-size.ts";
import { UsageError } from "./errors.ts";

/** Flags of `2dfs push`. */
export interface PushFlags {
  jobs?: number | string;
  store?: string;
  quiet?: boolean;
  json?: boolean;
  /** A PEM CA file trusted for HTTPS besides the defaults. */
  caCert?: string;
  /** Blobs larger than this go up in PATCH chunks of this size (default: one PUT up to 16 MiB, 32 MiB chunks above). */
  chunkSize?: string | number;
}

/** Pushes the store image `name` to `dest` (default: `name` read as a registry reference). */
export async function pushCommand(name: string, dest: string | undefined, flags: PushFlags): Promise<void> {
  const jobs = Number(flags.jobs ?? 4);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new UsageError(`--jobs must be an integer from 1 to 64, got "${flags.jobs}"`);
  const chunkSize = flags.chunkSize === undefined ? undefined : parseByteSize(String(flags.chunkSize));
  if (flags.chunkSize !== undefined && (chunkSize === undefined || chunkSize < 1)) {
    throw new UsageError(`--chunk-size "${flags.chunkSize}": expected a size of at least 1 byte, such as 5M or 1048576`);
  }
  const target = parseReference(dest ?? name);
  if (target.rects) throw new UsageError("a push destination cannot carry a partition suffix", "push the whole image; registries serve partitions of it");
  const store = await createLayoutStore(defaultStoreDir(flags.store));
  const client = await createRegistryClient({ registry: target.registry, scheme: target.scheme, caCert: flags.caCert });
  const reporter = createReporter({ quiet: flags.quiet, json: flags.json });
  try {
    // A blob over the chunk size is sent in chunks of it (what registries behind a proxy with a body limit need).
    const chunking = chunkSize === undefined ? {} : { chunkSize, monolithicMax: chunkSize };
    const result = await pushImage(store, name, target, { jobs, observer: reporter, client, ...chunking });
    reporter.event({ event: "pushed", name, destination: toFamiliarString(target), ...result });
    reporter.finish(
      `pushed ${name} to ${toFamiliarString(target)} (${result.digest}): ${result.uploaded} uploaded, ${result.mounted} mounted, ${result.exists} already there`,
    );
  } catch (error) {
    reporter.finish("push failed");
    throw error;
  }
}
