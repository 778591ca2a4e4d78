/** Plans the entries of a deterministic layer tar: sorted paths, every parent directory, normalised modes. */

/**
 * One file to place in a layer: `src` on the host is stored at the absolute, normalised `dst`.
 * With `linkTarget` it is a symbolic link instead, pointing at that text verbatim (size 0).
 */
export interface LayerFile {
  src: string;
  dst: string;
  size: number;
  executable: boolean;
  linkTarget?: string;
}

/** One tar entry: `path` is relative (no leading "/") and directories end with "/"; a symlink carries `linkTarget`. */
export interface TarEntry {
  path: string;
  type: "dir" | "file" | "symlink";
  mode: number;
  size: number;
  src?: string;
  linkTarget?: string;
}

/** Thrown when layer files cannot form a valid tar (bad or clashing destination paths). */
export class TarPlanError extends Error {
  override name = "TarPlanError";
}

const DIR_MODE = 0o755;
/** What `ln -s` gives on Linux; a link's own mode is ignored when it is followed. */
const SYMLINK_MODE = 0o777;
const encoder = new TextEncoder();

/** The entries of a layer holding `files`, sorted by path bytes, each parent directory once (0755), files 0644/0755, symlinks 0777. */
export function planTarEntries(files: LayerFile[]): TarEntry[] {
  const entries = new Map<string, TarEntry>();
  for (const file of files) {
    const path = relativePath(file.dst);
    if (!Number.isSafeInteger(file.size) || file.size < 0) {
      throw new TarPlanError(`invalid size ${file.size} for "${file.dst}"`);
    }
    const existing = entries.get(path);
    if (existing) throw new TarPlanError(`"${file.dst}" is listed twice in one layer`);
    if (entries.has(`${path}/`)) throw new TarPlanError(`"${file.dst}" is both a file and a directory`);
    if (file.linkTarget !== undefined) {
      if (file.linkTarget === "" || file.linkTarget.includes("\0")) {
        throw new TarPlanError(`symlink "${file.dst}" has an empty target or one with a NUL byte`);
      }
      entries.set(path, { path, type: "symlink", mode: SYMLINK_MODE, size: 0, src: file.src, linkTarget: file.linkTarget });
    } else {
      entries.set(path, { path, type: "file", mode: file.executable ? 0o755 : 0o644, size: file.size, src: file.src });
    }
    let slash = path.lastIndexOf("/");
    while (slash > 0) {
      const dir = path.slice(0, slash + 1);
      if (entries.has(dir)) break; // its own parents were added with it
      if (entries.has(dir.slice(0, -1))) throw new TarPlanError(`"/${dir.slice(0, -1)}" is both a file and a directory`);
      entries.set(dir, { path: dir, type: "dir", mode: DIR_MODE, size: 0 });
      slash = path.lastIndexOf("/", slash - 1);
    }
  }
  // Byte order of the UTF-8 path, not UTF-16 code-unit order, so the layout matches other tools' sorting.
  const keyed = [...entries.values()].map((entry) => ({ entry, key: encoder.encode(entry.path) }));
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  return keyed.map((k) => k.entry);
}

/** Validates an absolute normalised destination and drops the leading "/". */
function relativePath(dst: string): string {
  if (!dst.startsWith("/") || dst === "/") throw new TarPlanError(`destination "${dst}" must be an absolute file path`);
  if (dst.endsWith("/")) throw new TarPlanError(`destination "${dst}" must not end with "/"`);
  if (dst.includes("\0")) throw new TarPlanError(`destination "${dst}" contains a NUL byte`);
  const rel = dst.slice(1);
  for (const part of rel.split("/")) {
    if (part === "" || part === "." || part === "..") {
      throw new TarPlanError(`destination "${dst}" is not normalised (empty, "." or ".." component)`);
    }
  }
  return rel;
}
