/** Annotation keys: the OCI ones 2dfs uses, and its own for the native field format. */
export const Annotation = {
  refName: "org.opencontainers.image.ref.name",
  created: "org.opencontainers.image.created",
  title: "org.opencontainers.image.title",
  /** On a manifest: marks a 2DFS image; the value is the format version. */
  tdfsVersion: "io.2dfs.field.version",
  /** On an allotment layer descriptor: its row. */
  tdfsRow: "io.2dfs.allotment.row",
  /** On an allotment layer descriptor: its column. */
  tdfsCol: "io.2dfs.allotment.col",
  /**
   * On a manifest: the cells of its allotment layers (the last layers), in order, as
   * space-separated `row.col`. Tools that recompress layers on copy (skopeo gzips
   * uncompressed layers) rewrite layer descriptors and drop their annotations; manifest
   * annotations survive, so the field can still be read.
   */
  tdfsCells: "io.2dfs.field.cells",
} as const;

/** The native field format version 2dfs writes. */
export const TDFS_FORMAT_VERSION = "1";
