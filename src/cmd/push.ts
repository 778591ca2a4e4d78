/** `2dfs push NAME:TAG [DEST]`: an image of the local store to any registry. */
import { createLayoutStore } from "../content/layout-store.ts";
import { defaultStoreDir } from "../content/paths.ts";
import { parseReference, toFamiliarString } from "../oci/reference.ts";
import { createReporter } from "../client/progress-reporter.ts";
import { pushImage } from "../client/push-image.ts";
import { createRegistryClient } from "../client/transport/registry-client.ts";
import { UsageError } from "./errors.ts";

/** Flags of `2dfs push`. */
export interface PushFlags {
  jobs?: number | string;
  store?: string;
  quiet?: boolean;
  json?: boolean;
  /** A PEM CA file trusted for HTTPS besides the defaults. */
  caCert?: string;
}

/** Pushes the store image `name` to `dest` (default: `name` read as a registry reference). */
export async function pushCommand(name: string, dest: string | undefined, flags: PushFlags): Promise<void> {
  const jobs = Number(flags.jobs ?? 4);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new UsageError(`--jobs must be an integer from 1 to 64, got "${flags.jobs}"`);
  const target = parseReference(dest ?? name);
  if (target.rects) throw new UsageError("a push destination cannot carry a partition suffix", "push the whole image; registries serve partitions of it");
  const store = await createLayoutStore(defaultStoreDir(flags.store));
  const client = await createRegistryClient({ registry: target.registry, scheme: target.scheme, caCert: flags.caCert });
  const reporter = createReporter({ quiet: flags.quiet, json: flags.json });
  try {
    const result = await pushImage(store, name, target, { jobs, observer: reporter, client });
    reporter.event({ event: "pushed", name, destination: toFamiliarString(target), ...result });
    reporter.finish(
      `pushed ${name} to ${toFamiliarString(target)} (${result.digest}): ${result.uploaded} uploaded, ${result.mounted} mounted, ${result.exists} already there`,
    );
  } catch (error) {
    reporter.finish("push failed");
    throw error;
  }
}
