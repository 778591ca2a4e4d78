/**
 * copy_file_range(2) through bun:ffi: the kernel copies from one file's page cache to
 * another's, so file bodies never pass through JavaScript memory (on these VMs the first touch
 * of fresh memory costs ~6 ms per MiB, more than copying it). Bun has no API that copies at
 * given file offsets (`Bun.write(dst, Bun.file(src))` always writes a whole file from 0).
 * Linux (glibc or musl) only; when the library or the syscall is not there, or the kernel refuses
 * a pair of files (another filesystem, a special file), callers copy with read/write instead:
 * same bytes, same offsets. `--debug` names the path that ran.
 */
import { readSync, writeSync } from "node:fs";
import { debugLine } from "./debug-line.ts";
import { Errno, lastErrno, loadLibc } from "./libc.ts";
import { yieldToEventLoop } from "./yield-to-event-loop.ts";

// errno values after which nothing was copied and read/write will do.
const FALL_BACK = new Set<number>([Errno.EBADF, Errno.EINVAL, Errno.EXDEV, Errno.ENOSYS, Errno.EOPNOTSUPP]);

/** Whether this process can copy in the kernel at all (its libc bound through bun:ffi). */
export function kernelCopyAvailable(): boolean {
  return loadLibc() !== null;
}

/** The most one call copies, so a caller can yield to its event loop between calls. */
export const COPY_STEP = 64 << 20;

/**
 * Copies up to `length` bytes from `srcFd` (from `srcOffset`, or from its current offset, which
 * then advances) to the current offset of `dstFd`, which advances. Returns the bytes copied,
 * fewer than `length` only when the source ended; `undefined` when the kernel cannot copy
 * between these two files (nothing was copied).
 */
export function copyFileRange(srcFd: number, dstFd: number, length: number, srcOffset?: number): number | undefined {
  const c = loadLibc();
  if (c === null) {
    refusal = "no libc";
    return undefined;
  }
  // The kernel reads and advances a positioned copy's offset through this pointer.
  const at = srcOffset === undefined ? null : BigInt64Array.of(BigInt(srcOffset));
  let copied = 0;
  while (copied < length) {
    const n = c.copy_file_range(srcFd, at, dstFd, null, Math.min(length - copied, COPY_STEP), 0);
    if (n === 0) break; // end of the source
    if (n < 0) {
      const errno = lastErrno();
      if (copied === 0 && FALL_BACK.has(errno)) {
        refusal = `copy_file_range refused: ${Object.keys(Errno).find((name) => Errno[name as keyof typeof Errno] === errno)}`;
        return undefined;
      }
      throw new Error(`copy_file_range failed after ${copied} bytes (errno ${errno})`);
    }
    copied += n;
  }
  return copied;
}

// Why the last copyFileRange answered undefined, for --debug.
let refusal = "";

// The read/write fallback's buffer: small (fresh memory is the expensive part on these VMs) and
// one per thread; copyRange never awaits, so no two copies use it at once.
const FALLBACK_CHUNK = 256 << 10;
let fallbackBuffer: Uint8Array | undefined;

/**
 * {@link copyFileRange}, or, where the kernel cannot copy, read/write through a small reused
 * buffer. Same arguments and result, never undefined.
 */
export function copyRange(srcFd: number, dstFd: number, length: number, srcOffset?: number): number {
  const inKernel = copyFileRange(srcFd, dstFd, length, srcOffset);
  if (inKernel !== undefined) {
    debugLine("copy: copy_file_range");
    return inKernel;
  }
  debugLine(`copy: read/write (${refusal})`);
  const buffer = (fallbackBuffer ??= new Uint8Array(FALLBACK_CHUNK));
  let copied = 0;
  while (copied < length) {
    const position = srcOffset === undefined ? null : srcOffset + copied;
    const n = readSync(srcFd, buffer, 0, Math.min(buffer.length, length - copied), position);
    if (n === 0) break;
    writeFully(dstFd, buffer.subarray(0, n));
    copied += n;
  }
  return copied;
}

/**
 * Copies `length` bytes like {@link copyRange}, one {@link COPY_STEP} at a time with a turn of
 * the event loop in between (timers, progress, other transfers). Returns the bytes copied: fewer
 * than `length` only when the source ended early.
 */
export async function copyAll(srcFd: number, dstFd: number, length: number, srcOffset?: number): Promise<number> {
  let done = 0;
  while (done < length) {
    const at = srcOffset === undefined ? undefined : srcOffset + done;
    const n = copyRange(srcFd, dstFd, Math.min(length - done, COPY_STEP), at);
    if (n === 0) break;
    done += n;
    if (done < length) await yieldToEventLoop();
  }
  return done;
}

/** Writes all of `bytes` at `fd`'s current offset, waiting out a full non-blocking pipe (EAGAIN). */
export function writeFully(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length; ) {
    try {
      done += writeSync(fd, bytes, done, bytes.length - done);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
      Bun.sleepSync(1); // a reader will drain the pipe
    }
  }
}
