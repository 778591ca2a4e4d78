/** Starting a long-running daemon with its output in a log file, waiting for it, and stopping it. */
import { closeSync, openSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { Subprocess } from "bun";
import { SYSTEM_PATH } from "./run.ts";

/** A daemon process we started, with the file its stdout and stderr go to. */
export interface Daemon {
  name: string;
  proc: Subprocess;
  logFile: string;
}

/** Spawns `cmd args` with stdout+stderr appended to `logFile`. */
export function spawnDaemon(name: string, cmd: string, args: readonly string[], logFile: string, env?: Record<string, string>): Daemon {
  const fd = openSync(logFile, "a");
  try {
    const proc = Bun.spawn([cmd, ...args], {
      env: { ...process.env, PATH: SYSTEM_PATH, ...env },
      stdin: "ignore",
      stdout: fd,
      stderr: fd,
    });
    return { name, proc, logFile };
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(fd);
  }
}

/** The last `lines` lines of a log file ("" when it cannot be read). */
export async function logTail(logFile: string, lines = 40): Promise<string> {
  const text = await readFile(logFile, "utf8").catch(() => "");
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/**
 * Polls `ready` every 100 ms until it returns true; fails fast if the daemon exits, and after
 * `timeoutMs` fails with the daemon's log tail so CI output says why.
 */
export async function waitForDaemon(daemon: Daemon, ready: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = "";
  while (Date.now() < deadline) {
    if (daemon.proc.exitCode !== null || daemon.proc.signalCode !== null) {
      throw new Error(
        `${daemon.name} exited (${daemon.proc.exitCode ?? daemon.proc.signalCode}) before it was ready; log tail of ${daemon.logFile}:\n${await logTail(daemon.logFile)}`,
      );
    }
    try {
      if (await ready()) return;
    } catch (err) {
      lastError = String(err);
    }
    await Bun.sleep(100);
  }
  throw new Error(
    `${daemon.name} not ready after ${timeoutMs} ms${lastError ? ` (last error: ${lastError})` : ""}; log tail of ${daemon.logFile}:\n${await logTail(daemon.logFile)}`,
  );
}

/** Sends SIGTERM, waits up to `graceMs`, then SIGKILL; resolves once the process is gone. */
export async function stopDaemon(daemon: Daemon, graceMs = 10_000): Promise<void> {
  if (daemon.proc.exitCode !== null || daemon.proc.signalCode !== null) return;
  daemon.proc.kill("SIGTERM");
  const exited = await Promise.race([daemon.proc.exited.then(() => true), Bun.sleep(graceMs).then(() => false)]);
  if (!exited) {
    daemon.proc.kill("SIGKILL");
    await daemon.proc.exited;
  }
}
