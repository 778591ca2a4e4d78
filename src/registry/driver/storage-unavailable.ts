/** A remote store that failed or could not be reached: the request is answered 503, never with partial data. */

/** Thrown by a driver whose store answered with a server error, refused the credentials or went away. */
export class StorageUnavailableError extends Error {
  override name = "StorageUnavailableError";
}
