/** Resolves a local-store name that may carry a partition suffix (`name:tag--0.0.1.1`) into an image plan. */
import { loadImage } from "../../content/image-graph.ts";
import { type LayoutStore, NotInStoreError } from "../../content/layout-store.ts";
import type { Platform } from "../../oci/descriptor.ts";
import { type Rect, parseTagPartition } from "../../oci/partition-suffix.ts";
import { ociLayerMediaType } from "../../oci/media-types.ts";
import { detectFileCompression } from "../../archive/compress.ts";
import { type ImagePlan, planImage } from "./image-plan.ts";
import { choosePlatform } from "./choose-platform.ts";
import { parseReference } from "../../oci/reference.ts";

/** A store name split from its partition suffix. */
export function splitLocalName(ref: string): { name: string; rects?: Rect[] } {
  const slash = ref.lastIndexOf("/");
  const colon = ref.indexOf(":", slash + 1);
  if (colon < 0) return { name: `${ref}:latest` };
  const partition = parseTagPartition(ref.slice(colon + 1));
  if (!partition) return { name: ref };
  return { name: `${ref.slice(0, colon)}:${partition.baseTag}`, rects: partition.rects };
}

/** Plans the store image `ref` (with its partition, when it names one) for one platform. */
export async function planLocalImage(store: LayoutStore, ref: string, platform?: Platform): Promise<{ name: string; plan: ImagePlan }> {
  const { name, rects } = splitLocalName(ref);
  const root = await store.resolve(name);
  if (!root) throw new NotInStoreError(`no image named ${name} in the store ${store.root}; see 2dfs image ls`);
  const loaded = await loadImage(store, root);
  const image = choosePlatform(loaded.platforms, platform, parseReference(name));
  const plan = await planImage(store, image, rects, async (digest) => {
    const size = await store.blobSize(digest);
    if (size === undefined) throw new NotInStoreError(`allotment blob ${digest} of ${name} is not in the store`);
    return { size, mediaType: ociLayerMediaType(await detectFileCompression(store.blobPath(digest))) };
  });
  return { name, plan };
}
