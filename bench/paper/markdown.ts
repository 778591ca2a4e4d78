/** Markdown table and number formatting for the report. */

/** A Markdown table from rows (columns from the keys of all rows, in first-seen order). */
export function toMarkdownTable(rows: Record<string, string | number | undefined>[]): string {
  if (rows.length === 0) return "_(no data)_\n";
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: string | number | undefined) => (v === undefined ? "" : String(v).replace(/\|/g, "\\|"));
  const lines = [`| ${cols.join(" | ")} |`, `|${cols.map((c) => (typeof rows[0]![c] === "number" ? "---:" : "---")).join("|")}|`];
  for (const r of rows) lines.push(`| ${cols.map((c) => cell(r[c])).join(" | ")} |`);
  return `${lines.join("\n")}\n`;
}

/** Seconds with 3 significant digits. */
export function s3(v: number): number {
  return Number(v.toPrecision(3));
}

/** "min / median" seconds of a timing. */
export function minMed(t: { min: number; median: number }): string {
  return `${s3(t.min)} / ${s3(t.median)}`;
}

/** A ratio with 2-3 significant digits and an x. */
export function times(a: number, b: number): string {
  return `${Number((a / b).toPrecision(a / b >= 100 ? 3 : 2))}x`;
}

/** Bytes as MB (10^6) with one decimal. */
export function mb(bytes: number): number {
  return Math.round(bytes / 1e5) / 10;
}
