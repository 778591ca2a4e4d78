/**
 * The 2DFS partition suffix on a tag: `tag--x1.y1.x2.y2` (what runtimes can send) or the
 * paper's `tag+x1.y1.x2.y2`, chainable as a union. x is the row, y the column, bounds
 * inclusive.
 */

/** An inclusive rectangle of allotments: rows x1..x2, columns y1..y2. */
export interface Rect {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** The largest row or column index a suffix may name (keeps arithmetic and grids sane). */
export const MAX_FIELD_INDEX = 1_000_000;

/** A selection of every cell a field can have: the plain tag of a reference-format image is served as this partition. */
export const WHOLE_FIELD: readonly Rect[] = [{ x1: 0, y1: 0, x2: MAX_FIELD_INDEX, y2: MAX_FIELD_INDEX }];

/** Thrown for a suffix that looks like a partition but is not a valid one. */
export class PartitionSuffixError extends Error {
  override name = "PartitionSuffixError";
}

/** A tag split into its base tag and the rectangles it selects. */
export interface TagPartition {
  baseTag: string;
  rects: Rect[];
}

const SUFFIX = /^(.+?)((?:(?:--|\+)[^-+]+)+)$/;
const RECT = /^(\d{1,7})\.(\d{1,7})\.(\d{1,7})\.(\d{1,7})$/;
/** The OCI tag grammar. */
export const TAG_PATTERN = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/**
 * Splits a partition suffix off a tag. Returns undefined when the tag carries no suffix
 * at all, and throws PartitionSuffixError when it carries one that is malformed.
 * A plain tag that merely contains `--` (e.g. `my--tag`) is not a suffix.
 */
export function parseTagPartition(tag: string): TagPartition | undefined {
  const plus = tag.indexOf("+");
  if (plus < 0 && !/--\d/.test(tag)) return undefined;
  const match = SUFFIX.exec(tag);
  if (!match) throw new PartitionSuffixError(`"${tag}" has an empty partition suffix`);
  // Choose the split so the suffix is the longest run of rectangles at the end of the tag.
  const candidates = splitCandidates(tag);
  for (const at of candidates) {
    const baseTag = tag.slice(0, at);
    const parts = tag.slice(at).split(/--|\+/).slice(1);
    if (parts.every((p) => RECT.test(p))) {
      if (!TAG_PATTERN.test(baseTag)) throw new PartitionSuffixError(`"${baseTag}" is not a valid tag`);
      return { baseTag, rects: parts.map((p) => toRect(p)) };
    }
  }
  const first = candidates[0] ?? plus;
  const bad = tag.slice(first).split(/--|\+/).slice(1).find((p) => !RECT.test(p)) ?? "";
  throw new PartitionSuffixError(
    `malformed partition "${bad}" in "${tag}": expected x1.y1.x2.y2 (four non-negative integers)`,
  );
}

// Positions of every `+` and `--` separator, earliest first.
function splitCandidates(tag: string): number[] {
  const out: number[] = [];
  for (let i = 1; i < tag.length; i++) {
    if (tag[i] === "+") out.push(i);
    else if (tag[i] === "-" && tag[i + 1] === "-" && tag[i - 1] !== "-") out.push(i);
  }
  return out;
}

function toRect(text: string): Rect {
  const [, a, b, c, d] = RECT.exec(text)!;
  const [x1, y1, x2, y2] = [a, b, c, d].map(Number) as [number, number, number, number];
  for (const v of [x1, y1, x2, y2]) {
    if (v > MAX_FIELD_INDEX) throw new PartitionSuffixError(`partition ${text}: index ${v} is over ${MAX_FIELD_INDEX}`);
  }
  if (x1 > x2) throw new PartitionSuffixError(`partition ${text}: first row ${x1} is after last row ${x2}`);
  if (y1 > y2) throw new PartitionSuffixError(`partition ${text}: first column ${y1} is after last column ${y2}`);
  return { x1, y1, x2, y2 };
}

/** The `--` form of a list of rectangles, e.g. `--0.0.1.1--3.0.3.2`. */
export function toPartitionSuffix(rects: readonly Rect[]): string {
  return rects.map((r) => `--${r.x1}.${r.y1}.${r.x2}.${r.y2}`).join("");
}

/** True when (row, col) lies in any of the rectangles. */
export function inRects(rects: readonly Rect[], row: number, col: number): boolean {
  return rects.some((r) => r.x1 <= row && row <= r.x2 && r.y1 <= col && col <= r.y2);
}
