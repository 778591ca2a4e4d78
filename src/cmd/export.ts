/** `2dfs export REF -o FILE [--format docker|oci]`: an image or partition of the local store as a tar for docker/podman load. */
import { writeTo } from "../util/terminal.ts";
import { createLayoutStore } from "../content/layout-store.ts";
import { defaultStoreDir } from "../content/paths.ts";
import { parsePlatformString } from "../oci/descriptor.ts";
import { toPartitionSuffix } from "../oci/partition-suffix.ts";
import { type ArchiveFormat, writeImageArchive } from "../client/output/image-archive.ts";
import { planLocalImage, splitLocalName } from "../client/planning/local-image.ts";
import { UsageError } from "./errors.ts";

/** Flags of `2dfs export`. */
export interface ExportFlags {
  output?: string;
  format?: string;
  store?: string;
  platform?: string;
}

/** Writes the tar. */
export async function exportCommand(ref: string, flags: ExportFlags): Promise<void> {
  if (!flags.output) throw new UsageError("missing -o FILE", "2dfs export model:v1--0.0.1.1 -o model.tar");
  const format = (flags.format ?? "docker") as ArchiveFormat;
  if (format !== "docker" && format !== "oci") throw new UsageError(`--format must be docker or oci, got "${flags.format}"`);
  const store = await createLayoutStore(defaultStoreDir(flags.store));
  const platform = flags.platform ? parsePlatformString(flags.platform) : undefined;
  const { name, plan } = await planLocalImage(store, ref, platform);
  const { rects } = splitLocalName(ref);
  const repoTag = `${name}${rects ? toPartitionSuffix(rects) : ""}`;
  await writeImageArchive(flags.output, store, plan, repoTag, format);
  writeTo(2, `exported ${repoTag} (${plan.baseLayers.length + plan.allotments.length} layers) to ${flags.output} in ${format} format\n`);
}
