/** The small field most e2e suites build: 2 x 2 cells, (row, col), in row-major order. */
export const CELLS_2X2 = [
  [0, 0],
  [0, 1],
  [1, 0],
  [1, 1],
] as const;
