/** Sizes as people type them on a command line: 1048576, 500M, 20G, 1.5GiB (powers of 1024). */

/** The number of bytes `text` names, or undefined when it is not a size. */
export function parseByteSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(text.trim());
  if (!m) return undefined;
  const power = " kmgt".indexOf(m[2]!.toLowerCase() || " ");
  return Math.floor(Number(m[1]) * 1024 ** power);
}
