/** The catalog: every repository in storage, found by walking the repositories folder. */
import type { StorageDriver } from "../driver/driver.ts";
import { REPOSITORIES_DIR } from "../storage/paths.ts";

/** Lists repository names, sorted. A folder is a repository when it holds `_manifests` or `_layers`. */
export async function listRepositories(driver: StorageDriver): Promise<string[]> {
  const out: string[] = [];
  const walk = async (prefix: string, name: string) => {
    const children = await driver.list(prefix);
    if (name && (children.includes("_manifests") || children.includes("_layers"))) out.push(name);
    for (const child of children) {
      // Repository components never start with "_", so those are ours.
      if (!child.startsWith("_")) await walk(`${prefix}/${child}`, name ? `${name}/${child}` : child);
    }
  };
  await walk(REPOSITORIES_DIR, "");
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
