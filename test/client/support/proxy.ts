/** A Bun.serve proxy in front of a real registry that lets a test inject faults and count bytes. */

/** Forwards a request to the upstream registry, rewriting Location headers back to the proxy. */
export type Forward = (req: Request) => Promise<Response>;

/** A running proxy: `host` is `127.0.0.1:PORT`. */
export interface FaultProxy {
  host: string;
  stop(): void;
}

/** Starts a proxy; `handle` decides per request (call `forward` for the normal answer). */
export function startProxy(upstreamHost: string, handle: (req: Request, url: URL, forward: Forward) => Promise<Response> | Response): FaultProxy {
  let self = "";
  const forward: Forward = async (req) => {
    const url = new URL(req.url);
    const headers = new Headers(req.headers);
    headers.delete("host");
    const body = req.method === "GET" || req.method === "HEAD" ? undefined : new Uint8Array(await req.arrayBuffer());
    const res = await fetch(`http://${upstreamHost}${url.pathname}${url.search}`, { method: req.method, headers, body, redirect: "manual" });
    const out = new Headers(res.headers);
    const location = out.get("location");
    if (location) out.set("location", location.replace(`http://${upstreamHost}`, `http://${self}`));
    // Bun recomputes framing; a stale Content-Length would corrupt HEAD answers otherwise.
    if (req.method !== "HEAD") out.delete("content-length");
    return new Response(req.method === "HEAD" ? null : res.body, { status: res.status, headers: out });
  };
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => handle(req, new URL(req.url), forward) });
  self = `127.0.0.1:${server.port}`;
  return { host: self, stop: () => server.stop(true) };
}

/** A response that announces all of `bytes` but sends only the first `cut` before ending. */
export function truncatedResponse(bytes: Uint8Array, cut: number, headers: Record<string, string>): Response {
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      controller.enqueue(bytes.slice(0, cut));
      await Bun.sleep(20);
      controller.close();
    },
  });
  return new Response(body, { headers: { ...headers, "content-length": String(bytes.byteLength) } });
}

/** `res` with its body passed on unchanged, telling `count` the size of each piece as it goes through. */
export function countedResponse(res: Response, count: (bytes: number) => void): Response {
  const counted = res.body!.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        count(chunk.byteLength);
        controller.enqueue(chunk);
      },
    }),
  );
  return new Response(counted, { status: res.status, headers: res.headers });
}
