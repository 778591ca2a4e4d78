/** The machine and software a run measured, read at run time for the report. */
import { readFile } from "node:fs/promises";
import { availableParallelism, cpus, loadavg, release, totalmem } from "node:os";
import { run } from "../../test/e2e/support/index.ts";

/** Facts about the machine, for the report header. */
export interface MachineInfo {
  date: string;
  cores: number;
  cpu: string;
  memoryGB: number;
  kernel: string;
  os: string;
  bun: string;
  docker: string;
  distribution: string;
  /** 1-minute load average at the start and end of the run: other work on the machine makes numbers noisy. */
  loadStart: number;
  loadEnd?: number;
}

/** Reads cores, CPU model, memory, OS and tool versions. */
export async function readMachineInfo(dockerVersion: string): Promise<MachineInfo> {
  const osRelease = await readFile("/etc/os-release", "utf8").catch(() => "");
  const distribution = await run("docker-registry", ["--version"]).catch(() => ({ stdout: "unknown" }));
  return {
    date: new Date().toISOString(),
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? "unknown",
    memoryGB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    os: /^PRETTY_NAME="?([^"\n]*)"?/m.exec(osRelease)?.[1] ?? "unknown",
    bun: Bun.version,
    docker: dockerVersion,
    distribution: distribution.stdout.trim().split(" ").slice(-1)[0] ?? "unknown",
    loadStart: round(loadavg()[0] ?? 0),
  };
}

/** The 1-minute load average now. */
export function currentLoad(): number {
  return round(loadavg()[0] ?? 0);
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
