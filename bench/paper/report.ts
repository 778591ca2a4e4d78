/** Writes bench/results/paper.md, paper.json and the fig-*.svg files of a run. */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { toFigures } from "./report-figures.ts";
import { toReportMarkdown } from "./report-markdown.ts";
import type { PaperResults } from "./results.ts";
import { toClaimRows } from "./summary.ts";

/** Where the report goes (BENCH_RESULTS_DIR moves it, e.g. to keep a smoke run from replacing a real one). */
export const RESULTS_DIR = process.env.BENCH_RESULTS_DIR ?? join(import.meta.dir, "..", "results");

/** Writes every output file and returns their paths. */
export async function writePaperReport(results: PaperResults, dir = RESULTS_DIR): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const figures = toFigures(results);
  const written: string[] = [];
  for (const [name, svg] of Object.entries(figures)) {
    await writeFile(join(dir, name), svg);
    written.push(join(dir, name));
  }
  await writeFile(join(dir, "paper.md"), toReportMarkdown(results, Object.keys(figures)));
  await writeFile(join(dir, "paper.json"), `${JSON.stringify({ ...results, claims: toClaimRows(results) }, null, 2)}\n`);
  written.push(join(dir, "paper.md"), join(dir, "paper.json"));
  return written;
}
