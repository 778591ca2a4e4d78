/** How a command tells the user what it does: a live line on a terminal, plain lines, JSON events, or nothing. */
import { isTerminal, writeTo } from "../util/terminal.ts";

/** The output modes every long-running command accepts. */
export interface OutputFlags {
  quiet?: boolean;
  json?: boolean;
}

/** A sink for progress, results and warnings. */
export interface Reporter {
  /** Whether progress is redrawn in place (stderr is a terminal, neither --quiet nor --json). */
  readonly live: boolean;
  /** A line of progress (overwritten in place on a terminal). */
  progress(text: string): void;
  /** A line worth keeping (a result, a step done). */
  info(text: string): void;
  warn(text: string): void;
  /** A machine-readable event (only printed in --json mode, to stdout, one per line). */
  event(event: Record<string, unknown>): void;
  /** Ends a progress line. */
  done(): void;
}

/**
 * Picks the mode from the flags and whether stderr is a terminal. `process.stderr` is touched
 * only to redraw on a terminal (its first use costs ~22 ms, see util/terminal.ts); lines and
 * JSON events are written to the descriptors directly.
 */
export function createReporter(flags: OutputFlags): Reporter {
  const tty = isTerminal(2) && !flags.json && !flags.quiet;
  const stream = { write: (text: string) => (tty ? process.stderr.write(text) : writeTo(2, text)) };
  let lineShown = false; // a progress line is on screen
  let lastDraw = 0;
  const clear = () => {
    if (lineShown) stream.write("\r\x1b[2K");
    lineShown = false;
  };
  return {
    live: tty,
    progress(text) {
      if (!tty) return;
      const now = Date.now();
      if (now - lastDraw < 80) return; // redraw at most ~12 times a second
      lastDraw = now;
      const width = Math.max(20, (process.stderr.columns || 80) - 1); // 0 when the terminal does not say
      stream.write(`\r\x1b[2K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
      lineShown = true;
    },
    info(text) {
      if (flags.quiet || flags.json) return;
      clear();
      stream.write(`${text}\n`);
    },
    warn(text) {
      if (flags.json) {
        writeTo(1, `${JSON.stringify({ type: "warning", message: text })}\n`);
        return;
      }
      clear();
      stream.write(`warning: ${text}\n`);
    },
    event(event) {
      if (flags.json) writeTo(1, `${JSON.stringify(event)}\n`);
    },
    done() {
      clear();
    },
  };
}
