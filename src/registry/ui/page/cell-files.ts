/**
 * File names for cells whose config history names none (images copied by other tools, fields
 * of reference format): the server lists the cell's layer on demand, once per layer, and the
 * answer is kept for the page's lifetime (a digest's files never change).
 */
import { type LayerFileList, listLayerFiles } from "./api.ts";

/** How many names a cell shows, as `2dfs build` writes them into the history. */
const SHOWN = 3;

/** The cell's files as the history would describe them: "/a /b /c (+N more)". */
export function toFilesText(list: LayerFileList): string {
  const { files, truncated } = list;
  if (files.length === 0) return "no regular files";
  const shown = files.slice(0, SHOWN).map((f) => f.path).join(" ");
  const rest = files.length - Math.min(SHOWN, files.length);
  if (truncated) return `${shown} (+ more than ${rest})`;
  return rest > 0 ? `${shown} (+${rest} more)` : shown;
}

/** A cache of listings by repository and digest; `text` fetches each layer's list at most once (failures are retried). */
export function createCellFiles(list: (name: string, digest: string) => Promise<LayerFileList> = listLayerFiles) {
  const known = new Map<string, Promise<string>>();
  return {
    text(name: string, digest: string): Promise<string> {
      const key = `${name}@${digest}`;
      let text = known.get(key);
      if (!text) {
        text = list(name, digest).then(toFilesText);
        known.set(key, text);
        text.catch(() => known.delete(key));
      }
      return text;
    },
  };
}
