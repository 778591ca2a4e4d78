/** Re-renders paper.md and the figures from an existing bench/results/paper.json (no measuring): `bun bench/paper/render.ts`. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { RESULTS_DIR, writePaperReport } from "./report.ts";
import type { PaperResults } from "./results.ts";

const results = JSON.parse(await readFile(join(RESULTS_DIR, "paper.json"), "utf8")) as PaperResults & { claims?: unknown };
delete results.claims;
const written = await writePaperReport(results);
console.log(`wrote\n  ${written.join("\n  ")}`);
