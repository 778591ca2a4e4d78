/** Draws a field as a rows x columns grid of boxes with each allotment's files and size. */
import { formatBytes } from "../util/format-bytes.ts";

/** One allotment as the grid shows it. */
export interface GridCell {
  row: number;
  col: number;
  digest: string;
  size: number;
  files: { path: string; size: number }[];
}

const CELL_WIDTH = 24;
const MAX_FILE_LINES = 3;

/** A text grid; empty cells (holes) are drawn as dots. */
export function drawFieldGrid(cells: GridCell[]): string {
  const rows = Math.max(...cells.map((c) => c.row)) + 1;
  const cols = Math.max(...cells.map((c) => c.col)) + 1;
  const at = new Map(cells.map((c) => [`${c.row}.${c.col}`, c]));
  const border = `   +${Array.from({ length: cols }, () => "-".repeat(CELL_WIDTH)).join("+")}+`;
  const header = `    ${Array.from({ length: cols }, (_, c) => center(`col ${c}`)).join(" ")}`;
  const out = [header, border];
  for (let r = 0; r < rows; r++) {
    const contents = Array.from({ length: cols }, (_, c) => cellLines(at.get(`${r}.${c}`)));
    const height = Math.max(...contents.map((l) => l.length));
    for (let line = 0; line < height; line++) {
      const label = line === 0 ? String(r).padStart(2) : "  ";
      out.push(`${label} |${contents.map((l) => fit(l[line] ?? "")).join("|")}|`);
    }
    out.push(border);
  }
  return out.join("\n");
}

function cellLines(cell: GridCell | undefined): string[] {
  if (!cell) return [" ·"];
  const lines = [` ${cell.digest.slice(7, 19)} ${formatBytes(cell.size)}`];
  for (const file of cell.files.slice(0, MAX_FILE_LINES)) lines.push(` ${file.path.split("/").pop()}`);
  if (cell.files.length > MAX_FILE_LINES) lines.push(` +${cell.files.length - MAX_FILE_LINES} more`);
  return lines;
}

function fit(text: string): string {
  return text.length > CELL_WIDTH ? `${text.slice(0, CELL_WIDTH - 1)}…` : text.padEnd(CELL_WIDTH);
}

function center(text: string): string {
  const pad = Math.max(0, CELL_WIDTH - text.length);
  return `${" ".repeat(Math.floor(pad / 2))}${text}${" ".repeat(Math.ceil(pad / 2))}`;
}
