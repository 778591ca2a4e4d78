/** The one storage failure a client must hear about as such: no space left. */

/** Thrown by a driver when its storage has no room (ENOSPC, or a quota: EDQUOT). */
export class StorageFullError extends Error {
  override name = "StorageFullError";
}

/** Turns a file system's out-of-space error into a StorageFullError; anything else is returned as it is. */
export function toStorageFullError(e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code !== "ENOSPC" && code !== "EDQUOT") return e;
  const why = code === "ENOSPC" ? "no space left on device" : "disk quota exceeded";
  return new StorageFullError(`the registry's disk is full (${code}: ${why})`, { cause: e });
}
