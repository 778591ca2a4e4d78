/** For long synchronous loops (hashing, copying files) that must not starve timers and I/O. */

/** How many bytes such a loop handles between turns of the event loop: about 5 ms of hashing. */
export const YIELD_EVERY_BYTES = 8 << 20;

/** Lets the event loop run whatever is waiting, then continues. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}
