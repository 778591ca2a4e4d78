/** Where the local image store lives by default. */
import { homedir } from "node:os";
import { join } from "node:path";

/** `--store`, else `TDFS_STORE`, else `$XDG_DATA_HOME/2dfs/store` (`~/.local/share/2dfs/store`). */
export function defaultStoreDir(explicit?: string): string {
  if (explicit) return explicit;
  if (process.env.TDFS_STORE) return process.env.TDFS_STORE;
  const data = process.env.XDG_DATA_HOME || join(homedir(), ".local", "share");
  return join(data, "2dfs", "store");
}
