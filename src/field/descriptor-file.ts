/**
 * The `2dfs.json` descriptor: which source files go to which allotment (row, col) and where
 * inside it. Entry numbers in messages are the 0-based positions in the "allotments" list.
 */
import { isObject, parseJsonBytes } from "../oci/json.ts";
import { MAX_FIELD_INDEX } from "../oci/partition-suffix.ts";

/** One validated entry: `src[i]` is stored at `dst[i]`; a dst ending in `/` is a directory destination. */
export interface AllotmentSpec {
  entry: number;
  row: number;
  col: number;
  src: string[];
  dst: string[];
}

/** Thrown for an invalid descriptor; `entry` is the offending entry's position when known. */
export class FieldDescriptorError extends Error {
  override name = "FieldDescriptorError";
  entry?: number;
  constructor(message: string, entry?: number, options?: { cause?: unknown }) {
    super(message, options);
    if (entry !== undefined) this.entry = entry;
  }
}

const ENTRY_KEYS = new Set(["src", "dst", "row", "col"]);
const TOP_KEYS = new Set(["allotments"]);

/** Parses and validates a descriptor's text; unknown keys become warnings, everything else wrong throws. */
export function parseFieldDescriptor(text: string, fileName: string): { allotments: AllotmentSpec[]; warnings: string[] } {
  let doc: unknown;
  try {
    doc = parseJsonBytes(text, fileName);
  } catch (cause) {
    throw new FieldDescriptorError((cause as Error).message, undefined, { cause });
  }
  if (!isObject(doc)) throw new FieldDescriptorError(`${fileName}: the top level must be an object {"allotments": [...]}`);
  const warnings: string[] = [];
  for (const key of Object.keys(doc)) {
    if (!TOP_KEYS.has(key)) warnings.push(`${fileName}: unknown top-level key ${JSON.stringify(key)} ignored`);
  }
  if (!("allotments" in doc)) throw new FieldDescriptorError(`${fileName}: missing the "allotments" list`);
  const list = doc.allotments;
  if (!Array.isArray(list)) throw new FieldDescriptorError(`${fileName}: "allotments" must be a list`);
  if (list.length === 0) warnings.push(`${fileName}: "allotments" is empty; the image gets no allotments`);

  const allotments: AllotmentSpec[] = [];
  const cells = new Map<string, number>();
  for (let i = 0; i < list.length; i++) {
    const spec = parseEntry(list[i], i, fileName, warnings);
    const key = `${spec.row},${spec.col}`;
    const other = cells.get(key);
    if (other !== undefined) {
      throw new FieldDescriptorError(
        `${where(fileName, spec)}: cell (${spec.row}, ${spec.col}) is already used by entry ${other}`,
        i,
      );
    }
    cells.set(key, i);
    allotments.push(spec);
  }
  checkDestinations(allotments, fileName);
  return { allotments, warnings };
}

/** Validates one dst path and returns it normalised; a trailing `/` (directory destination) is kept. */
export function normalizeDst(dst: string): string {
  if (dst.length === 0) throw new FieldDescriptorError("dst must not be empty");
  if (dst.includes("\0")) throw new FieldDescriptorError(`dst ${JSON.stringify(dst)} contains a NUL character`);
  if (!dst.startsWith("/")) throw new FieldDescriptorError(`dst ${JSON.stringify(dst)} must be an absolute path (start with /)`);
  const raw = dst.split("/");
  if (raw.includes("..")) {
    throw new FieldDescriptorError(`dst ${JSON.stringify(dst)} must not contain ".." components (it could escape /)`);
  }
  const parts = raw.filter((p) => p !== "" && p !== ".");
  if (parts.length === 0) throw new FieldDescriptorError(`dst ${JSON.stringify(dst)} names the root directory; give a path below /`);
  const last = raw[raw.length - 1];
  // `/x/` and `/x/.` both say "into the directory /x".
  const isDirectory = last === "" || last === ".";
  return `/${parts.join("/")}${isDirectory ? "/" : ""}`;
}

function where(fileName: string, e: { entry: number; row?: number; col?: number }): string {
  const cell = e.row !== undefined && e.col !== undefined ? ` (row ${e.row}, col ${e.col})` : "";
  return `${fileName} entry ${e.entry}${cell}`;
}

function parseEntry(value: unknown, entry: number, fileName: string, warnings: string[]): AllotmentSpec {
  if (!isObject(value)) {
    throw new FieldDescriptorError(`${fileName} entry ${entry}: must be an object {"src", "dst", "row", "col"}`, entry);
  }
  for (const key of Object.keys(value)) {
    if (!ENTRY_KEYS.has(key)) warnings.push(`${fileName} entry ${entry}: unknown key ${JSON.stringify(key)} ignored`);
  }
  const row = parseIndex(value, "row", entry, fileName);
  const col = parseIndex(value, "col", entry, fileName);
  const at = where(fileName, { entry, row, col });
  const fail = (message: string, cause?: unknown): never => {
    throw new FieldDescriptorError(`${at}: ${message}`, entry, { cause });
  };

  if (!("src" in value)) fail('missing "src"');
  if (!("dst" in value)) fail('missing "dst"');
  const src = toStringList(value.src, "src", fail);
  src.forEach((s, k) => {
    if (s.length === 0) fail(`src${suffix(value.src, k)} must not be empty`);
    if (s.includes("\0")) fail(`src${suffix(value.src, k)} contains a NUL character`);
  });
  let dstRaw = toStringList(value.dst, "dst", fail);
  if (typeof value.dst === "string" && Array.isArray(value.src)) {
    // A list of sources may share one directory destination, but not one file path.
    if (!value.dst.endsWith("/")) {
      fail(`src is a list of ${src.length} but dst is one path; use a list of ${src.length} dst paths or a directory ending in "/"`);
    }
    dstRaw = src.map(() => value.dst as string);
  } else if (Array.isArray(value.dst) && typeof value.src === "string") {
    fail(`dst is a list but src is one string; give src as a list of the same length`);
  } else if (src.length !== dstRaw.length) {
    fail(`src has ${src.length} paths but dst has ${dstRaw.length}; they must pair up one to one`);
  }
  const dst = dstRaw.map((d, k) => {
    try {
      return normalizeDst(d);
    } catch (cause) {
      return fail(`dst${suffix(value.dst, k)}: ${(cause as Error).message}`, cause);
    }
  });
  return { entry, row, col, src, dst };
}

function suffix(list: unknown, k: number): string {
  return Array.isArray(list) ? `[${k}]` : "";
}

function toStringList(value: unknown, key: "src" | "dst", fail: (m: string) => never): string[] {
  if (typeof value === "string") return [value];
  if (!Array.isArray(value)) return fail(`${key} must be a string or a list of strings`);
  if (value.length === 0) return fail(`${key} must not be an empty list`);
  value.forEach((v, k) => {
    if (typeof v !== "string") fail(`${key}[${k}] must be a string`);
  });
  return value as string[];
}

function parseIndex(value: Record<string, unknown>, key: "row" | "col", entry: number, fileName: string): number {
  const v = value[key];
  const fail = (message: string): never => {
    throw new FieldDescriptorError(`${fileName} entry ${entry}: ${message}`, entry);
  };
  if (v === undefined) return fail(`missing "${key}"`);
  if (typeof v !== "number" || !Number.isFinite(v)) return fail(`"${key}" must be a number, got ${JSON.stringify(v)}`);
  if (!Number.isInteger(v)) return fail(`"${key}" must be an integer, got ${v}`);
  if (v < 0) return fail(`"${key}" must not be negative, got ${v}`);
  if (v > MAX_FIELD_INDEX) return fail(`"${key}" ${v} is over the limit of ${MAX_FIELD_INDEX}`);
  return v;
}

interface Owner {
  entry: number;
  row: number;
  col: number;
  index: number;
}

// Two allotments writing one path, or a file standing where another entry needs a directory,
// would make the stacked result depend on layer order: refuse them up front.
function checkDestinations(allotments: AllotmentSpec[], fileName: string): void {
  const files = new Map<string, Owner>();
  const dirs = new Map<string, Owner>();
  const name = (o: Owner) => `${where(fileName, o)} dst${o.index >= 0 ? `[${o.index}]` : ""}`;
  const clash = (a: Owner, b: Owner, message: string): never => {
    throw new FieldDescriptorError(`${name(a)}: ${message} (${name(b)})`, a.entry);
  };
  for (const spec of allotments) {
    spec.dst.forEach((dst, index) => {
      const owner: Owner = { entry: spec.entry, row: spec.row, col: spec.col, index: spec.dst.length > 1 ? index : -1 };
      const isDir = dst.endsWith("/");
      const path = isDir ? dst.slice(0, -1) : dst;
      if (isDir) {
        const file = files.get(path);
        if (file) clash(owner, file, `directory ${dst} is also written as a file`);
        if (!dirs.has(path)) dirs.set(path, owner);
      } else {
        const file = files.get(path);
        if (file) {
          const sameEntry = file.entry === owner.entry;
          clash(owner, file, `${dst} is written twice${sameEntry ? " in one allotment" : " by two allotments"}`);
        }
        const dir = dirs.get(path);
        if (dir) clash(owner, dir, `${dst} is also a directory destination`);
        files.set(path, owner);
      }
    });
  }
  // A file that is an ancestor of any other destination would have to be a directory too.
  const check = (path: string, owner: Owner) => {
    for (let i = path.indexOf("/", 1); i > 0; i = path.indexOf("/", i + 1)) {
      const file = files.get(path.slice(0, i));
      if (file) clash(owner, file, `${path} lies below ${path.slice(0, i)}, which is written as a file`);
    }
  };
  for (const [path, owner] of files) check(path, owner);
  for (const [path, owner] of dirs) check(path, owner);
}
