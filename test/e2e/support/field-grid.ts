/** The small field most e2e suites build: 2 x 2 cells, (row, col), in row-major order. */
export const CELLS_2X2 = [
  [0, 0],
  [0, 1],
  [1, 0],
  [1, 1],
] as const;

/** Where cell (r, c) of these suites' fields lands in the image: /field/rR-cC.EXT. */
export const fieldFile = (r: number, c: number, ext = "txt"): string => `/field/r${r}-c${c}.${ext}`;

/**
 * The build context of such a field, for writeTree: ctx/rR-cC.EXT holding `content(r, c)` for
 * each cell, and ctx/2dfs.json placing each at {@link fieldFile} in its cell.
 */
export function fieldContext(
  cells: readonly (readonly [number, number])[],
  content: (r: number, c: number) => string | Uint8Array,
  ext = "txt",
): Record<string, string | Uint8Array> {
  const files: Record<string, string | Uint8Array> = {};
  for (const [r, c] of cells) files[`ctx/r${r}-c${c}.${ext}`] = content(r, c);
  files["ctx/2dfs.json"] = JSON.stringify({ allotments: cells.map(([r, c]) => ({ src: `r${r}-c${c}.${ext}`, dst: fieldFile(r, c, ext), row: r, col: c })) });
  return files;
}
