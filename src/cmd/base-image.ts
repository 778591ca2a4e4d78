/** Turns `--base` into an image in the local store: scratch, a local name, `oci:DIR[:TAG]`, or a registry reference. */
import { copyGraph } from "../content/copy-graph.ts";
import { loadImage } from "../content/image-graph.ts";
import { openLayoutSource, parseLayoutReference } from "../content/layout-source.ts";
import type { LayoutStore } from "../content/layout-store.ts";
import type { BaseImage } from "../builder/build-image.ts";
import { parseReference } from "../oci/reference.ts";
import type { Platform } from "../oci/descriptor.ts";

/** Resolves and caches the base image; blobs already in the store are re-checked, not re-fetched. */
export async function obtainBaseImage(base: string | undefined, store: LayoutStore, platforms?: Platform[]): Promise<BaseImage> {
  if (!base || base === "scratch") return { kind: "scratch", platform: platforms?.[0] };
  if (base.startsWith("oci:")) {
    const { dir, tag } = parseLayoutReference(base);
    const source = openLayoutSource(dir);
    const root = await source.resolve(tag);
    await copyGraph(source, root, store);
    return { kind: "image", image: await loadImage(store, root) };
  }
  const local = await store.resolve(base);
  if (local) return { kind: "image", image: await loadImage(store, local) };
  const { fetchImageToStore } = await import("../client/fetch-image.ts");
  const { createRegistryClient } = await import("../client/transport/registry-client.ts");
  const ref = parseReference(base);
  const client = await createRegistryClient({ registry: ref.registry, scheme: ref.scheme });
  // One wanted platform is filtered while fetching; several are filtered by the builder.
  const root = await fetchImageToStore(client, ref, store, platforms?.length === 1 ? { platform: platforms[0] } : {});
  return { kind: "image", image: await loadImage(store, root) };
}
