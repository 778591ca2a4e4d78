/** Tags of a repository: a name pointing at a manifest digest. */
import { type Digest, isDigest } from "../../oci/digest.ts";
import type { StorageDriver } from "../driver/driver.ts";
import { tagLinkPath, tagsDir } from "../storage/paths.ts";

/** The tag operations. */
export interface TagService {
  resolve(name: string, tag: string): Promise<Digest | undefined>;
  set(name: string, tag: string, digest: Digest): Promise<void>;
  remove(name: string, tag: string): Promise<boolean>;
  /** Every tag of a repository, sorted lexically. */
  list(name: string): Promise<string[]>;
}

/** Creates the tag service. */
export function createTagService(driver: StorageDriver): TagService {
  return {
    async resolve(name, tag) {
      const bytes = await driver.read(tagLinkPath(name, tag));
      if (!bytes) return undefined;
      const text = new TextDecoder().decode(bytes).trim();
      return isDigest(text) ? text : undefined;
    },
    set: (name, tag, digest) => driver.write(tagLinkPath(name, tag), new TextEncoder().encode(digest)),
    async remove(name, tag) {
      if (!(await driver.stat(tagLinkPath(name, tag)))) return false;
      await driver.delete(`${tagsDir(name)}/${tag}`);
      return true;
    },
    async list(name) {
      const names = await driver.list(tagsDir(name));
      return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    },
  };
}
