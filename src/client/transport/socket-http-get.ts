/**
 * HTTP/1.1 GET over 2dfs's own socket (util/tcp-socket.ts), for blob downloads from registries
 * reached over plain HTTP by IPv4 address (a local or in-cluster registry, loopback). The body
 * arrives in one reused buffer and goes straight to the caller's sink (hash, then file), where
 * Bun's fetch would hand out every piece in fresh memory: bench/transfer.ts. Anything else
 * (TLS, host names, IPv6) keeps using fetch, as does every answer but a success (redirects,
 * auth challenges, errors): the caller repeats those through the registry client.
 */
import { type DetachedBody, type Framing, framingOf, readBody, receiveBuffer } from "../../util/http1-body.ts";
import { SocketError, type TcpSocket, connectTcp } from "../../util/tcp-socket.ts";

export { chunkedDecoder } from "../../util/http1-body.ts";

/** Where GETs over our own socket go. */
export interface SocketTarget {
  ip: string;
  port: number;
  /** The Host header: the registry's `host:port` as the base URL names it. */
  host: string;
}

/** The socket target of a registry base URL, or undefined when fetch must be used (https, a host name, IPv6). */
export function socketTarget(baseUrl: string): SocketTarget | undefined {
  const url = new URL(baseUrl);
  if (url.protocol !== "http:") return undefined;
  const ip = url.hostname === "localhost" ? "127.0.0.1" : url.hostname;
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) return undefined;
  return { ip, port: url.port === "" ? 80 : Number(url.port), host: url.host };
}

/** The status and headers of an answer; the body is read with `readBody`. */
export interface SocketResponse {
  status: number;
  headers: Headers;
  /**
   * Passes the body to `sink` piece by piece, each piece valid only during the call (the buffer
   * is reused), and resolves when the body ended as its framing says. Rejects with a SocketError
   * when the connection drops first; pieces already passed on were whole and in order.
   */
  readBody(sink: (piece: Uint8Array) => void): Promise<void>;
  /** Hands the connection over, e.g. to another thread, to read the body there (see receive-body.ts): this side will not touch or close it. */
  detach(): DetachedBody;
  close(): void;
}

/** Largest response head accepted (status line and headers). */
const MAX_HEAD_BYTES = 64 << 10;

/** Read size while looking for the end of the head: body bytes that come with it are copied. */
const HEAD_READ_SIZE = 8 << 10;

/**
 * Sends `GET path` to `target` and reads the answer's head. Undefined when this process cannot
 * drive its own sockets (no libc bound); SocketError when the connection fails or the head is not HTTP.
 */
export async function socketGet(target: SocketTarget, path: string, headers: Record<string, string>, timeoutMs: number): Promise<SocketResponse | undefined> {
  const socket = await connectTcp(target.ip, target.port, timeoutMs);
  if (socket === undefined) return undefined;
  try {
    const lines = [`GET ${path} HTTP/1.1`, `Host: ${target.host}`, "Connection: close"];
    for (const [name, value] of Object.entries(headers)) {
      if (/[\r\n]/.test(name + value)) throw new SocketError(`header ${name} contains a line break`, "EINVAL");
      lines.push(`${name}: ${value}`);
    }
    await socket.send(new TextEncoder().encode(`${lines.join("\r\n")}\r\n\r\n`));
    // The head is read in small pieces: what comes with it is copied out (the shared buffer may
    // be reused before the body is read), and copying a whole first read costs fresh memory.
    const head = await readHead(socket, receiveBuffer().subarray(0, HEAD_READ_SIZE));
    let framing: Framing | undefined;
    const framed = () => (framing ??= framingOf(head.headers));
    return {
      status: head.status,
      headers: head.headers,
      readBody: async (sink) => readBody(socket, framed(), head.early, sink),
      detach: () => ({ fd: socket.detach(), framing: framed(), early: head.early }),
      close: socket.close,
    };
  } catch (error) {
    socket.close();
    throw error;
  }
}

interface Head {
  status: number;
  headers: Headers;
  /** Body bytes that came in the same reads as the head. */
  early: Uint8Array;
}

async function readHead(socket: TcpSocket, buffer: Uint8Array): Promise<Head> {
  let received = new Uint8Array(0);
  for (;;) {
    const n = socket.tryReceive(buffer);
    if (n === null) {
      await socket.readable();
      continue;
    }
    if (n === 0) throw new SocketError(`the connection closed after ${received.length} bytes, before the end of the response head`, "ECONNRESET");
    const joined = new Uint8Array(received.length + n);
    joined.set(received);
    joined.set(buffer.subarray(0, n), received.length);
    received = joined;
    const end = Buffer.from(received.buffer, received.byteOffset, received.length).indexOf("\r\n\r\n");
    if (end >= 0 && end <= MAX_HEAD_BYTES) return parseHead(received.subarray(0, end), received.slice(end + 4));
    if (end > MAX_HEAD_BYTES || received.length > MAX_HEAD_BYTES) throw new SocketError(`the response head is over ${MAX_HEAD_BYTES} bytes`, "EPROTO");
  }
}

function parseHead(bytes: Uint8Array, early: Uint8Array): Head {
  const [statusLine = "", ...fields] = new TextDecoder("latin1").decode(bytes).split("\r\n");
  const match = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(statusLine);
  if (!match) throw new SocketError(`not an HTTP/1.x answer: ${JSON.stringify(statusLine.slice(0, 80))}`, "EPROTO");
  const headers = new Headers();
  for (const field of fields) {
    const colon = field.indexOf(":");
    if (colon <= 0) throw new SocketError(`malformed header line ${JSON.stringify(field.slice(0, 80))}`, "EPROTO");
    try {
      headers.append(field.slice(0, colon).trim(), field.slice(colon + 1).trim());
    } catch {
      throw new SocketError(`invalid header line ${JSON.stringify(field.slice(0, 80))}`, "EPROTO");
    }
  }
  return { status: Number(match[1]), headers, early };
}

