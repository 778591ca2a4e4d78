/** Helpers to read untrusted JSON documents with precise error messages. */

/** Thrown when a document is not valid JSON or not of the expected shape. */
export class JsonShapeError extends Error {
  override name = "JsonShapeError";
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Decodes UTF-8 bytes and parses JSON; the error names the position of a syntax error. */
export function parseJsonBytes(bytes: Uint8Array | string, what: string): unknown {
  let text: string;
  try {
    text = typeof bytes === "string" ? bytes : decoder.decode(bytes);
  } catch (cause) {
    throw new JsonShapeError(`${what}: not valid UTF-8`, { cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new JsonShapeError(`${what}: invalid JSON (${describeSyntaxError(cause, text)})`, { cause });
  }
}

/** A message for a JSON syntax error with its line and column where the engine tells the offset. */
export function describeSyntaxError(error: unknown, text: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const position = /position (\d+)/.exec(message)?.[1];
  if (position !== undefined) {
    const offset = Number(position);
    const before = text.slice(0, offset);
    const line = before.split("\n").length;
    const column = offset - before.lastIndexOf("\n");
    return `${message.replace(/\s*at position \d+.*$/, "")} at line ${line}, column ${column}`;
  }
  const lc = /line (\d+) column (\d+)/.exec(message);
  if (lc) return message;
  return `${message}${locateByReparse(text)}`;
}

// JavaScriptCore does not report offsets; find the first offending character ourselves.
function locateByReparse(text: string): string {
  const offset = firstBadOffset(text);
  if (offset < 0) return "";
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - before.lastIndexOf("\n");
  return ` at line ${line}, column ${column}`;
}

// A small JSON tokenizer that returns the offset of the first character a JSON parser rejects.
function firstBadOffset(text: string): number {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\r\n".includes(text[i]!)) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      ws();
      if (text[i] === "}") return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        str();
        ws();
        if (text[i] !== ":") fail();
        i++;
        value();
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") return void i++;
        fail();
      }
    }
    if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") return void i++;
        fail();
      }
    }
    if (c === '"') return str();
    const lit = /^(true|false|null|-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?)/.exec(text.slice(i, i + 64));
    if (lit) return void (i += lit[0].length);
    fail();
  };
  const str = (): void => {
    i++;
    while (i < text.length) {
      const c = text[i]!;
      if (c === '"') return void i++;
      if (c === "\\") i += 2;
      else if (c < " ") fail();
      else i++;
    }
    fail();
  };
  try {
    value();
    ws();
    return i < text.length ? i : -1;
  } catch (at) {
    return typeof at === "number" ? at : -1;
  }
}

/** True for a plain JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Checks that a value is a string-to-string map (annotations, labels). */
export function isStringMap(value: unknown): value is Record<string, string> {
  return isObject(value) && Object.values(value).every((v) => typeof v === "string");
}
