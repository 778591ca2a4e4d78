/**
 * Synchronous looks at the output tree that answer "nothing there" instead of throwing. Extraction
 * and the link check run these between a path's check and its use, where no other work may run
 * (see safe-extract.ts), and the first asynchronous call would also start Bun's fs thread pool.
 */
import { type Stats, lstatSync, readdirSync } from "node:fs";

/** lstat, or undefined when the path cannot be examined (missing, or a file where a folder is expected). */
export function lstatOrNone(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/** The names in a folder, or [] when it cannot be read. */
export function readdirOrNone(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}
