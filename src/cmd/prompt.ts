/** Interactive questions on a terminal: a line as typed, or a secret that is not echoed. */
import { createInterface } from "node:readline/promises";
import { UsageError } from "./errors.ts";

/** Asks `question` on stderr and returns the line typed. */
export async function promptLine(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

/** Asks `question` on stderr and reads a line without echoing it (raw mode); Ctrl-C cancels. */
export async function promptSecret(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  let value = "";
  try {
    return await new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        for (const ch of chunk.toString("utf8")) {
          if (ch === "\r" || ch === "\n" || ch === "\u0004") {
            stdin.off("data", onData);
            return resolve(value);
          }
          if (ch === "\u0003") {
            stdin.off("data", onData);
            return reject(new UsageError("cancelled"));
          }
          if (ch === "\u007f" || ch === "\b") value = [...value].slice(0, -1).join("");
          else if (ch >= " ") value += ch;
        }
      };
      stdin.on("data", onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write("\n");
  }
}
