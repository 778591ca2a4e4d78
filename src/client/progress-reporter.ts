/**
 * Progress output of pull and push: redrawn bars per blob on a terminal, one plain line per
 * blob otherwise, JSON events with `--json`, nothing with `--quiet`. Messages go to stderr,
 * JSON events to stdout.
 */
import { formatBytes } from "../util/format-bytes.ts";
import { isTerminal, writeTo } from "../util/terminal.ts";
import type { Digest } from "../oci/digest.ts";
import type { TransferObserver, TransferOutcome } from "./transfer-observer.ts";

/** A transfer observer that can also print messages and machine-readable events. */
export interface Reporter extends TransferObserver {
  info(message: string): void;
  /** A JSON event (printed only with `--json`). */
  event(doc: Record<string, unknown>): void;
  /** Stops redrawing and prints a summary line. */
  finish(summary: string): void;
}

/** How progress is shown. */
export interface ReporterOptions {
  quiet?: boolean;
  json?: boolean;
  /** Defaults to whether stderr is a terminal. */
  tty?: boolean;
  write?: (text: string) => void;
  writeJson?: (line: string) => void;
}

interface Active {
  total: number | undefined;
  bytes: number;
  started: number;
}


const short = (d: Digest): string => d.slice(d.indexOf(":") + 1, d.indexOf(":") + 13);

/** Creates a reporter for the given flags. */
export function createReporter(opts: ReporterOptions = {}): Reporter {
  const mode = opts.json ? "json" : opts.quiet ? "quiet" : (opts.tty ?? isTerminal(2)) ? "tty" : "plain";
  // process.stderr only to redraw on a terminal: its first use costs ~22 ms (util/terminal.ts).
  const write = opts.write ?? (mode === "tty" ? (t: string) => void process.stderr.write(t) : (t: string) => writeTo(2, t));
  const writeJson = opts.writeJson ?? ((l: string) => writeTo(1, `${l}\n`));
  const active = new Map<Digest, Active>();
  let drawn = 0;
  let timer: ReturnType<typeof setInterval> | undefined;

  const rate = (a: Active): string => {
    const s = (performance.now() - a.started) / 1000;
    return s > 0.05 ? `${formatBytes(a.bytes / s)}/s` : "";
  };
  const draw = (): void => {
    const lines = [...active].map(([d, a]) => {
      const total = a.total ?? 0;
      const width = 24;
      const filled = total > 0 ? Math.min(width, Math.round((a.bytes / total) * width)) : 0;
      const bar = `[${"=".repeat(filled)}${" ".repeat(width - filled)}]`;
      return `${short(d)} ${bar} ${formatBytes(a.bytes)}${a.total !== undefined ? ` / ${formatBytes(a.total)}` : ""} ${rate(a)}`;
    });
    // Move up over the previous frame and clear it.
    write(`${drawn > 0 ? `\x1b[${drawn}A` : ""}\x1b[J${lines.map((l) => `${l}\n`).join("")}`);
    drawn = lines.length;
  };
  const ensureTimer = (): void => {
    if (mode === "tty" && !timer) {
      timer = setInterval(draw, 100);
      timer.unref?.();
    }
  };
  const line = (text: string): void => {
    if (mode === "tty") {
      write(`${drawn > 0 ? `\x1b[${drawn}A` : ""}\x1b[J${text}\n`);
      drawn = 0;
      draw();
    } else if (mode === "plain") write(`${text}\n`);
  };

  return {
    live: mode === "tty",
    start(digest, total, already) {
      active.set(digest, { total, bytes: already, started: performance.now() });
      if (mode === "json") writeJson(JSON.stringify({ event: "start", digest, total: total ?? null, resumedFrom: already }));
      else if (mode === "plain") write(`${short(digest)}: ${already > 0 ? `resuming at ${formatBytes(already)} of` : "transferring"} ${total !== undefined ? formatBytes(total) : "unknown size"}\n`);
      ensureTimer();
    },
    advance(digest, bytes) {
      const a = active.get(digest);
      if (a) a.bytes += bytes;
    },
    done(digest: Digest, outcome: TransferOutcome, size: number) {
      const a = active.get(digest);
      active.delete(digest);
      if (mode === "json") {
        writeJson(JSON.stringify({ event: "blob", digest, outcome, size }));
        return;
      }
      line(`${short(digest)}: ${outcome} ${formatBytes(size)}${a ? ` ${rate(a)}` : ""}`);
    },
    info(message) {
      line(message);
    },
    event(doc) {
      if (mode === "json") writeJson(JSON.stringify(doc));
    },
    finish(summary) {
      if (timer) clearInterval(timer);
      timer = undefined;
      if (mode === "tty") {
        write(`${drawn > 0 ? `\x1b[${drawn}A` : ""}\x1b[J`);
        drawn = 0;
      }
      if (mode === "json") writeJson(JSON.stringify({ event: "done", summary }));
      else if (mode !== "quiet") write(`${summary}\n`);
    },
  };
}
