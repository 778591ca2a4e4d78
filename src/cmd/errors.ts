/** Errors a command raises for wrong usage (exit 2) as opposed to failures (exit 1). */
export class UsageError extends Error {
  override name = "UsageError";
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}
