/**
 * A non-blocking IPv4 TCP socket driven through libc, whose reads land in a buffer the caller
 * owns and reuses. Bun's own clients (fetch, Bun.connect, node:net) hand out every received
 * chunk in fresh memory, and the first touch of fresh memory is the dearest part of receiving on
 * these VMs (bench/transfer.ts). Waiting is shared: one poll(2) loop serves every socket, blocking
 * at most POLL_SLICE_MS at a time and then letting the event loop run (timers, fetch, progress).
 */
import { debugLine } from "./debug-line.ts";
import { Errno, type Libc, lastErrno, loadLibc } from "./libc.ts";
import { yieldToEventLoop } from "./yield-to-event-loop.ts";

const AF_INET = 2;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_ERROR = 4;
const MSG_NOSIGNAL = 0x4000;
const POLLIN = 0x1;
const POLLOUT = 0x4;

/** How long one poll may block the event loop when no socket is ready. */
const POLL_SLICE_MS = 2;

/** A socket-level failure; `code` is the errno name when known (ECONNREFUSED, ECONNRESET, ETIMEDOUT). */
export class SocketError extends Error {
  override name = "SocketError";
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/**
 * A connected socket. Reading is split in two so that a caller can read and use a shared buffer
 * with no await in between: `tryReceive` never waits, `readable` does.
 */
export interface TcpSocket {
  /** Sends all of `bytes`. */
  send(bytes: Uint8Array): Promise<void>;
  /** Receives into `into`: the byte count, 0 at the end of the stream, null when nothing has arrived yet. */
  tryReceive(into: Uint8Array): number | null;
  /** Resolves when data (or the end, or an error) is waiting; rejects after the time limit. */
  readable(): Promise<void>;
  /** Gives up the descriptor without closing it (for another owner, see adoptTcpSocket); returns it. */
  detach(): number;
  /** Closes the connection, unless detached. */
  close(): void;
}

/**
 * Connects to `ipv4:port`; undefined when this process cannot drive sockets itself (no libc
 * bound): the caller then uses fetch, which `--debug` says.
 * Fails with a SocketError when the peer refuses or nothing answers within `timeoutMs`, which
 * also bounds each later wait for data.
 */
export async function connectTcp(ipv4: string, port: number, timeoutMs: number): Promise<TcpSocket | undefined> {
  const c = loadLibc();
  if (c === null) {
    debugLine("transport: fetch (no libc)");
    return undefined;
  }
  debugLine("transport: own socket (libc)");
  const address = sockaddrIn(ipv4, port);
  const fd = c.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw errnoError("socket", lastErrno());
  try {
    if (c.connect(fd, address, address.length) !== 0) {
      const errno = lastErrno();
      if (errno !== Errno.EINPROGRESS) throw errnoError(`connect to ${ipv4}:${port}`, errno);
      await waitFor(fd, POLLOUT, timeoutMs);
      const error = Int32Array.of(0);
      c.getsockopt(fd, SOL_SOCKET, SO_ERROR, error, Int32Array.of(4));
      if (error[0] !== 0) throw errnoError(`connect to ${ipv4}:${port}`, error[0]!);
    }
  } catch (error) {
    c.close(fd);
    throw error;
  }
  return adopt(c, fd, timeoutMs);
}

/** Takes over a connected socket opened elsewhere (e.g. by another thread, through `detach`); SocketError ENOSYS without a libc. */
export function adoptTcpSocket(fd: number, timeoutMs: number): TcpSocket {
  const c = loadLibc();
  if (c === null) throw new SocketError("this process cannot drive sockets itself (no libc bound)", "ENOSYS");
  return adopt(c, fd, timeoutMs);
}

function adopt(c: Libc, fd: number, timeoutMs: number): TcpSocket {
  let owned = true;
  return {
    async send(bytes) {
      for (let sent = 0; sent < bytes.length; ) {
        const rest = bytes.subarray(sent);
        const n = c.send(fd, rest, rest.length, MSG_NOSIGNAL);
        if (n >= 0) sent += n;
        else {
          const errno = lastErrno();
          if (errno === Errno.EAGAIN) await waitFor(fd, POLLOUT, timeoutMs);
          else if (errno !== Errno.EINTR) throw errnoError("send", errno);
        }
      }
    },
    tryReceive(into) {
      const n = c.recv(fd, into, into.length, 0);
      if (n >= 0) return n;
      const errno = lastErrno();
      if (errno === Errno.EAGAIN || errno === Errno.EINTR) return null;
      throw errnoError("receive", errno);
    },
    readable: () => waitFor(fd, POLLIN, timeoutMs),
    detach() {
      owned = false;
      return fd;
    },
    close() {
      if (owned) c.close(fd);
      owned = false;
    },
  };
}

function sockaddrIn(ipv4: string, port: number): Uint8Array {
  const octets = ipv4.split(".").map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) throw new SocketError(`not an IPv4 address: ${ipv4}`, "EINVAL");
  const address = new Uint8Array(16); // struct sockaddr_in
  const view = new DataView(address.buffer);
  view.setUint16(0, AF_INET, true);
  view.setUint16(2, port, false);
  address.set(octets, 4);
  return address;
}

const ERRNO_NAMES: Record<number, string> = Object.fromEntries(Object.entries(Errno).map(([name, value]) => [value, name]));

function errnoError(what: string, errno: number): SocketError {
  const code = ERRNO_NAMES[errno] ?? `errno ${errno}`;
  const text = code === "ECONNREFUSED" ? "connection refused" : code === "ECONNRESET" ? "connection reset by peer" : code;
  return new SocketError(`${what}: ${text}`, code);
}

interface Waiter {
  events: number;
  deadline: number;
  resolve(): void;
  reject(error: Error): void;
}

// Sockets waiting to become readable or writable, and whether the poll loop is running.
const waiting = new Map<number, Waiter>();
let polling = false;

function waitFor(fd: number, events: number, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    waiting.set(fd, { events, deadline: performance.now() + timeoutMs, resolve, reject });
    if (!polling) void pollLoop();
  });
}

async function pollLoop(): Promise<void> {
  const c = loadLibc()!;
  polling = true;
  try {
    while (waiting.size > 0) {
      const fds = [...waiting.keys()];
      const table = new Int32Array(fds.length * 2); // struct pollfd: int fd; short events, revents
      const shorts = new Int16Array(table.buffer);
      fds.forEach((fd, i) => {
        table[i * 2] = fd;
        shorts[i * 4 + 2] = waiting.get(fd)!.events;
      });
      const ready = c.poll(table, fds.length, POLL_SLICE_MS);
      const errno = ready < 0 ? lastErrno() : 0;
      if (ready < 0 && errno !== Errno.EINTR) {
        const error = errnoError("poll", errno);
        for (const fd of fds) waiting.get(fd)!.reject(error);
        waiting.clear();
        break;
      }
      const now = performance.now();
      fds.forEach((fd, i) => {
        const waiter = waiting.get(fd)!;
        // Errors and hang-ups count as ready too: the next call on the socket reports them.
        if (shorts[i * 4 + 3] !== 0) {
          waiting.delete(fd);
          waiter.resolve();
        } else if (now > waiter.deadline) {
          waiting.delete(fd);
          waiter.reject(new SocketError("no answer within the time limit", "ETIMEDOUT"));
        }
      });
      // The woken sockets are read (in microtasks) and timers and other I/O get their turn.
      await yieldToEventLoop();
    }
  } finally {
    polling = false;
  }
}
