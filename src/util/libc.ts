/**
 * The C library through bun:ffi, for the few system calls Bun has no API for: copying between
 * files at offsets (copy_file_range) and receiving from a socket into a buffer the caller owns
 * (socket, connect, poll, recv). The only home of bun:ffi. Linux only, with glibc or musl: the
 * library bound is the one this process already runs on (read from /proc/self/maps), because
 * loading the other one beside it would corrupt the process. Elsewhere, or when binding fails,
 * or with TDFS_LIBC=none, `loadLibc()` answers null and callers take their portable path.
 */
import type { Pointer } from "bun:ffi";
import { readFileSync } from "node:fs";
import { buildTarget } from "./build-info.ts";
import { debugLine } from "./debug-line.ts";

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

/** A C library to try: its family and what to pass to dlopen. */
export interface LibcCandidate {
  family: "glibc" | "musl";
  path: string;
}

/** What the process runs on, as far as choosing a C library goes. */
export interface LibcHost {
  platform: string;
  arch: string;
  /** The text of /proc/self/maps, or undefined when it cannot be read. */
  maps: string | undefined;
  /** The target this binary was compiled for (e.g. linux-arm64-musl), or undefined from source. */
  target: string | undefined;
  /** The TDFS_LIBC environment variable. */
  override: string | undefined;
}

/** The libraries to try in order, or the reason none is (an empty list comes with a reason). */
export function libcCandidates(host: LibcHost): { candidates: LibcCandidate[]; reason?: string } {
  if (host.override === "none") return { candidates: [], reason: "TDFS_LIBC=none" };
  if (host.platform !== "linux") return { candidates: [], reason: `not Linux (${host.platform})` };
  const mapped = host.maps === undefined ? undefined : mappedLibc(host.maps);
  if (mapped !== undefined) return { candidates: [mapped] };
  // /proc unreadable (a sandbox): guess from the compiled target, musl's names first only on musl.
  const machine = host.arch === "x64" ? "x86_64" : host.arch === "arm64" ? "aarch64" : host.arch;
  const glibc: LibcCandidate[] = [{ family: "glibc", path: "libc.so.6" }];
  const musl: LibcCandidate[] = [
    { family: "musl", path: `libc.musl-${machine}.so.1` }, // Alpine
    { family: "musl", path: `/lib/ld-musl-${machine}.so.1` }, // the loader is musl's libc everywhere
    { family: "musl", path: `/usr/lib/${machine}-linux-musl/libc.so` }, // Debian's musl package
  ];
  if (host.target === undefined) return { candidates: [], reason: "/proc/self/maps unreadable and the build target unknown" };
  return { candidates: host.target.endsWith("-musl") ? musl : glibc };
}

/** The C library mapped into this process, from the text of /proc/self/maps. */
export function mappedLibc(maps: string): LibcCandidate | undefined {
  for (const line of maps.split("\n")) {
    const slash = line.indexOf("/");
    if (slash < 0) continue;
    const path = line.slice(slash).replace(/ \(deleted\)$/, "");
    const name = path.slice(path.lastIndexOf("/") + 1);
    if (name === "libc.so.6") return { family: "glibc", path };
    if (/^(ld|libc)[.-]musl-[a-z0-9_]+\.so\.1$/.test(name) || (name === "libc.so" && /-linux-musl\//.test(path))) return { family: "musl", path };
  }
  return undefined;
}

/** The C library bound (or why none is): for `--debug` and tests. */
export type LibcChoice = (LibcCandidate & { bound: true }) | { bound: false; reason: string };

let libc: Libc | null | undefined; // undefined: not loaded yet; null: not available here
let choice: LibcChoice | undefined;
let errnoOf: (() => number) | undefined;

/** libc, loaded on first use (a command that never needs it never pays for it); null without a usable one. */
export function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  let maps: string | undefined;
  try {
    maps = process.platform === "linux" ? readFileSync("/proc/self/maps", "latin1") : undefined;
  } catch {
    maps = undefined;
  }
  const host: LibcHost = {
    platform: process.platform,
    arch: process.arch,
    maps,
    target: buildTarget,
    override: process.env.TDFS_LIBC,
  };
  const { candidates, reason } = libcCandidates(host);
  libc = null;
  choice = { bound: false, reason: reason ?? "" };
  const failures: string[] = [];
  for (const candidate of candidates) {
    try {
      libc = bind(candidate.path);
      choice = { ...candidate, bound: true };
      break;
    } catch (error) {
      failures.push(`${candidate.path}: ${(error as Error).message}`);
    }
  }
  if (!choice.bound && failures.length > 0) choice = { bound: false, reason: failures.join("; ") };
  debugLine(choice.bound ? `libc: ${choice.family} ${choice.path}` : `libc: none (${choice.reason}): portable paths`);
  return libc;
}

/** What loadLibc chose (loading it first). */
export function libcChoice(): LibcChoice {
  loadLibc();
  return choice!;
}

function bind(path: string): Libc {
  const ffi = require("bun:ffi") as typeof import("bun:ffi");
  const { FFIType: T } = ffi;
  const { symbols } = ffi.dlopen(path, {
    copy_file_range: { args: [T.i32, T.ptr, T.i32, T.ptr, T.u64, T.u32], returns: T.i64_fast },
    socket: { args: [T.i32, T.i32, T.i32], returns: T.i32 },
    connect: { args: [T.i32, T.ptr, T.u32], returns: T.i32 },
    getsockopt: { args: [T.i32, T.i32, T.i32, T.ptr, T.ptr], returns: T.i32 },
    poll: { args: [T.ptr, T.u64, T.i32], returns: T.i32 },
    send: { args: [T.i32, T.ptr, T.u64, T.i32], returns: T.i64_fast },
    recv: { args: [T.i32, T.ptr, T.u64, T.i32], returns: T.i64_fast },
    close: { args: [T.i32], returns: T.i32 },
    // Both glibc and musl keep errno per thread behind this function.
    __errno_location: { args: [], returns: T.ptr },
  });
  const location = symbols.__errno_location as () => Pointer | null;
  errnoOf = () => ffi.read.i32(location()!);
  return symbols as unknown as Libc;
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
