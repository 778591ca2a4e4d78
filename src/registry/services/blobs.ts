/** Blobs of a repository: content-addressed data shared by all repositories, reached through links. */
import type { Digest } from "../../oci/digest.ts";
import type { StorageDriver } from "../driver/driver.ts";
import { blobDataPath, layerLinkPath } from "../storage/paths.ts";

/** The blob operations the routes and the other services use. */
export interface BlobService {
  /** Size of a blob linked into `name` whose data is present, else undefined. */
  stat(name: string, digest: Digest): Promise<{ size: number } | undefined>;
  /** Size of a blob's data regardless of repository links. */
  statData(digest: Digest): Promise<{ size: number } | undefined>;
  /** The blob's bytes (for small documents such as configs and field blobs). */
  read(digest: Digest): Promise<Uint8Array | undefined>;
  /** Links an existing blob into a repository. */
  link(name: string, digest: Digest): Promise<void>;
  /** Removes a repository's link; false when there was none. The data stays until gc. */
  unlink(name: string, digest: Digest): Promise<boolean>;
  /** Stores small verified bytes as a blob (manifests) and links it. */
  putVerified(name: string, digest: Digest, bytes: Uint8Array): Promise<void>;
}

/** Creates the blob service over a driver. */
export function createBlobService(driver: StorageDriver): BlobService {
  const statData = async (digest: Digest) => {
    const s = await driver.stat(blobDataPath(digest));
    return s && { size: s.size };
  };
  return {
    statData,
    async stat(name, digest) {
      if (!(await driver.stat(layerLinkPath(name, digest)))) return undefined;
      return statData(digest);
    },
    read: (digest) => driver.read(blobDataPath(digest)),
    async link(name, digest) {
      await driver.write(layerLinkPath(name, digest), new TextEncoder().encode(digest));
    },
    async unlink(name, digest) {
      const path = layerLinkPath(name, digest);
      if (!(await driver.stat(path))) return false;
      await driver.delete(path.slice(0, -"/link".length));
      return true;
    },
    async putVerified(name, digest, bytes) {
      if (!(await statData(digest))) await driver.write(blobDataPath(digest), bytes);
      await this.link(name, digest);
    },
  };
}
