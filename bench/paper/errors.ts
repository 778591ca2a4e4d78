/** Failure text for the report: the failing command and the end of its output, not a minified-source dump. */
import { RunError } from "../../test/e2e/support/index.ts";

/** A short, exact account of an error: first line of the message, the tail of a command's stderr, and the stack's first frames. */
export function toFailureText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const head = error.message.split("\n")[0] ?? "";
  const parts = [head];
  if (error instanceof RunError) {
    // Bun prints the source line around a crash; in a minified binary that line is huge and says nothing.
    const lines = error.result.stderr.split("\n").filter((l) => l.length < 400);
    parts.push(lines.slice(-12).join("\n"));
  } else if (error.message.includes("\n")) {
    parts.push(error.message.split("\n").filter((l) => l.length < 400).slice(1, 13).join("\n"));
  }
  const frames = (error.stack ?? "").split("\n").filter((l) => /^\s+at /.test(l)).slice(0, 6);
  return [...parts, ...frames].join("\n").trim();
}
