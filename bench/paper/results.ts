/** The record of one paper-bench run: what paper.json holds and what the report is rendered from. */
import type { BuildPoint } from "./exp-build.ts";
import type { ManyImagesPoint } from "./exp-many-images.ts";
import type { PhysicalResult } from "./exp-physical.ts";
import type { PullPoint } from "./exp-pull.ts";
import type { RebuildPoint } from "./exp-rebuild.ts";
import type { SubBenchResult } from "./exp-registry.ts";
import type { BenchConfig } from "./config.ts";
import type { MachineInfo } from "./machine.ts";

/** Every experiment's output (absent when it failed or was not reached). */
export interface Experiments {
  physical?: PhysicalResult[];
  build?: BuildPoint[];
  manyImages?: ManyImagesPoint[];
  pull?: { push2dfs: number; points: PullPoint[] };
  rebuild?: RebuildPoint[];
  registry?: SubBenchResult[];
}

/** One whole run. */
export interface PaperResults {
  command: string;
  config: BenchConfig;
  machine?: MachineInfo;
  tdfs?: { command: string[]; kind: string };
  experiments: Experiments;
  /** Experiment name -> the failure, word for word. */
  errors: Record<string, string>;
  /** Experiment name -> wall seconds it took. */
  durations: Record<string, number>;
  totalSeconds: number;
}
