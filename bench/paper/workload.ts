/** Model-like workloads: N random float32-like split files of a given total size, with a 2dfs.json and a Dockerfile (one COPY per split). */
import { link, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { writeSplits } from "../lib/tools.ts";

/** A folder of splits that both 2dfs and docker build from. */
export interface Workload {
  dir: string;
  names: string[];
  splitBytes: number;
  totalBytes: number;
  /** 2dfs.json of every split: split i at row 0, column i, so a partition of k splits is `--0.0.0.(k-1)`. */
  descriptor: string;
  /** Dockerfile (in `dir`) with one COPY per split. */
  dockerfile: string;
}

/** The in-image path of a split. */
export function toSplitDst(name: string): string {
  return `/model/${name}`;
}

/** Writes `count` splits summing to about `totalBytes` into `dir`, plus the build files. */
export async function createWorkload(dir: string, count: number, totalBytes: number): Promise<Workload> {
  const splitBytes = Math.floor(totalBytes / count);
  const names = await writeSplits(dir, count, splitBytes);
  const descriptor = join(dir, "2dfs.json");
  await writeDescriptor(descriptor, names.map((n, i) => ({ name: n, col: i })));
  const dockerfile = join(dir, "Dockerfile");
  await writeDockerfile(dockerfile, names);
  return { dir, names, splitBytes, totalBytes: splitBytes * count, descriptor, dockerfile };
}

/** Writes a 2dfs.json placing each named split of the workload folder at row 0 and the given column. */
export async function writeDescriptor(path: string, splits: { name: string; col: number }[], srcDir?: string): Promise<void> {
  const allotments = splits.map((s) => ({ src: srcDir ? join(srcDir, s.name) : s.name, dst: toSplitDst(s.name), row: 0, col: s.col }));
  await writeFile(path, `${JSON.stringify({ allotments }, null, 1)}\n`);
}

/** Writes a Dockerfile on the loaded busybox base with one COPY line per split, in order. */
export async function writeDockerfile(path: string, names: string[]): Promise<void> {
  await writeFile(path, `FROM busybox:bench\n${names.map((n) => `COPY ${n} ${toSplitDst(n)}`).join("\n")}\n`);
}

/**
 * A Docker build context holding only `names` of the workload, hard-linked (no copy), so
 * that Docker sends just the splits its image needs: the fair set-up for one image per partition.
 */
export async function createSubContext(workload: Workload, dir: string, names: string[]): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const n of names) await link(join(workload.dir, n), join(dir, n));
  await writeDockerfile(join(dir, "Dockerfile"), names);
  return dir;
}

/** Splits `items` into `k` contiguous groups of near-equal size (partition j = group j). */
export function toGroups<T>(items: readonly T[], k: number): T[][] {
  const groups: T[][] = [];
  for (let j = 0; j < k; j++) groups.push(items.slice(Math.round((j * items.length) / k), Math.round(((j + 1) * items.length) / k)));
  return groups;
}
