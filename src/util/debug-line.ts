/**
 * One-line notes on stderr about which path a process took (C library, transport, copies), only
 * under `--debug`. Each distinct line is written once per process. Worker threads do not see the
 * command line's flags, so only the main thread writes: it makes the same choices first.
 */
import { writeSync } from "node:fs";

const enabled = process.argv.includes("--debug");
const written = new Set<string>();

/** Writes `debug: <text>` to stderr once per process, when --debug is on. */
export function debugLine(text: string): void {
  if (!enabled || written.has(text)) return;
  written.add(text);
  try {
    writeSync(2, `debug: ${text}\n`);
  } catch {
    // stderr closed or full: a diagnostic is not worth failing the command for
  }
}
