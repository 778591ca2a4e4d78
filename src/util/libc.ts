/**
 * The C library through bun:ffi, for the few system calls Bun has no API for: copying between
 * files at offsets (copy_file_range) and receiving from a socket into a buffer the caller owns
 * (socket, connect, poll, recv). The only home of bun:ffi. Linux with glibc only: elsewhere
 * `loadLibc()` answers null and callers take their portable path.
 */
import type { Pointer } from "bun:ffi";

/** The functions bound, with the JavaScript types bun:ffi gives them. */
export interface Libc {
  copy_file_range(srcFd: number, srcOffset: BigInt64Array | null, dstFd: number, dstOffset: null, length: number, flags: number): number;
  socket(domain: number, type: number, protocol: number): number;
  connect(fd: number, address: Uint8Array, length: number): number;
  getsockopt(fd: number, level: number, name: number, value: Int32Array, length: Int32Array): number;
  poll(fds: Int32Array, count: number, timeoutMs: number): number;
  send(fd: number, bytes: Uint8Array, length: number, flags: number): number;
  recv(fd: number, into: Uint8Array, length: number, flags: number): number;
  close(fd: number): number;
}

let libc: Libc | null | undefined; // undefined: not loaded yet; null: not available here
let errnoOf: (() => number) | undefined;

/** libc, loaded on first use (a command that never needs it never pays for it); null without glibc or bun:ffi. */
export function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  try {
    const ffi = require("bun:ffi") as typeof import("bun:ffi");
    const { FFIType: T } = ffi;
    const { symbols } = ffi.dlopen("libc.so.6", {
      copy_file_range: { args: [T.i32, T.ptr, T.i32, T.ptr, T.u64, T.u32], returns: T.i64_fast },
      socket: { args: [T.i32, T.i32, T.i32], returns: T.i32 },
      connect: { args: [T.i32, T.ptr, T.u32], returns: T.i32 },
      getsockopt: { args: [T.i32, T.i32, T.i32, T.ptr, T.ptr], returns: T.i32 },
      poll: { args: [T.ptr, T.u64, T.i32], returns: T.i32 },
      send: { args: [T.i32, T.ptr, T.u64, T.i32], returns: T.i64_fast },
      recv: { args: [T.i32, T.ptr, T.u64, T.i32], returns: T.i64_fast },
      close: { args: [T.i32], returns: T.i32 },
      __errno_location: { args: [], returns: T.ptr },
    });
    const location = symbols.__errno_location as () => Pointer | null;
    errnoOf = () => ffi.read.i32(location()!);
    libc = symbols as unknown as Libc;
  } catch {
    libc = null;
  }
  return libc;
}

/** errno of the last failed call on this thread (read right after the call, before anything else runs). */
export function lastErrno(): number {
  return errnoOf!();
}

/** errno values (Linux) that callers tell apart. */
export const Errno = {
  EINTR: 4,
  EAGAIN: 11,
  EBADF: 9,
  EXDEV: 18,
  EINVAL: 22,
  ENOSYS: 38,
  EOPNOTSUPP: 95,
  ECONNRESET: 104,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EINPROGRESS: 115,
} as const;
