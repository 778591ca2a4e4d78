/**
 * Standard output and error without Node's stream objects. In a compiled Bun 1.4.5 binary the
 * first touch of `process.stdout` or `process.stderr` (even reading `.isTTY`) costs ~22 ms, as
 * much as a third of a rebuild with nothing to do: commands check for a terminal with fstat and
 * write plain lines with write(2) directly, synchronously, as a C or Go command line tool does.
 * Only an interactive terminal (redrawn progress lines) uses `process.stderr`, where a person is
 * waiting anyway.
 */
import { fstatSync, statSync } from "node:fs";
import { writeFully } from "./copy-file-range.ts";

let devNull: number | undefined;

/**
 * Whether `fd` is a terminal: a character device other than /dev/null (a serial line or a pty
 * is a terminal; a pipe, a file or /dev/null is not). fstat instead of isatty(3), which Node
 * only offers through node:tty, itself ~9 ms to load here.
 */
export function isTerminal(fd: number): boolean {
  try {
    const info = fstatSync(fd);
    if (!info.isCharacterDevice()) return false;
    devNull ??= statSync("/dev/null").rdev;
    return info.rdev !== devNull;
  } catch {
    return false;
  }
}

/** Writes all of `text` to `fd` (1 or 2), waiting out a full non-blocking pipe. */
export function writeTo(fd: number, text: string): void {
  writeFully(fd, Buffer.from(text));
}
