/**
 * The documents a field is described by (manifest, config, reference field blob) grow with
 * every allotment, and readers cap them: 2dfs and distribution read a manifest of at most
 * 4 MiB, 2dfs a config of at most 4 MiB and a field blob of at most 16 MiB. An image over a
 * cap builds but can then be neither inspected, exported nor pushed, so the build refuses it.
 */

/** One document's size with the planned allotments and with none. */
export interface DocumentSize {
  name: "manifest" | "config" | "field blob";
  bytes: number;
  /** Its size for the same base with no allotment: what the allotments do not add. */
  empty: number;
  limit: number;
}

/** A field too large for the documents that describe it. */
export class FieldTooLargeError extends Error {
  override name = "FieldTooLargeError";
}

/** The remedy every refusal ends with. */
export const FIELD_TOO_LARGE_REMEDY = "split the field into several images or group files into fewer allotments";

/**
 * Throws when a document is over its limit, saying by how much, how many allotments fit (at the
 * average size each one adds) and what to do. `atLeast`: the sizes are a lower bound (planned
 * layer sizes not yet known).
 */
export function checkDocumentSizes(docs: DocumentSize[], allotments: number, atLeast: boolean): void {
  const over = docs.filter((d) => d.bytes > d.limit);
  if (over.length === 0) return;
  const fit = Math.min(...docs.map((d) => allotmentsThatFit(d, allotments)));
  const worst = over.reduce((a, b) => (b.bytes / b.limit > a.bytes / a.limit ? b : a));
  const each = allotments > 0 ? Math.ceil((worst.bytes - worst.empty) / allotments) : 0;
  throw new FieldTooLargeError(
    `the image's ${worst.name} would be ${atLeast ? "at least " : ""}${worst.bytes} bytes for ${allotments} allotments ` +
      `(about ${each} bytes each), over the ${describeLimit(worst.limit)} ${worst.name === "manifest" ? "that 2dfs and registries apply" : "that 2dfs applies"} to a ${worst.name}; ` +
      `about ${fit} allotments fit: ${FIELD_TOO_LARGE_REMEDY}` +
      (worst.name === "field blob" ? " (the reference format also stores each empty cell left of an allotment; --format native does not)" : ""),
  );
}

function allotmentsThatFit(d: DocumentSize, allotments: number): number {
  if (allotments === 0 || d.bytes <= d.empty) return allotments;
  const each = (d.bytes - d.empty) / allotments;
  return Math.max(0, Math.min(allotments, Math.floor((d.limit - d.empty) / each)));
}

function describeLimit(limit: number): string {
  const mib = limit / (1024 * 1024);
  return Number.isInteger(mib) ? `${mib} MiB (${limit} byte) limit` : `${limit} byte limit`;
}
