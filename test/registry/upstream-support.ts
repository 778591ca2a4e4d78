/** An origin registry on a real 127.0.0.1 socket that records every request, and an in-process edge in front of it. */
import { createMemoryDriver } from "../../src/registry/driver/memory.ts";
import type { UpstreamOptions } from "../../src/registry/upstream/upstream.ts";
import { createTestClient } from "./helpers.ts";

/** A running origin: `requests` lists "METHOD /path" of everything it was asked. */
export function startOrigin(opts: { htpasswd?: string; bearerFor?: { user: string; password: string } } = {}) {
  const client = createTestClient({ htpasswd: opts.htpasswd });
  const requests: string[] = [];
  /** Blob digests whose bodies the origin flips one byte of (same length), as a damaged disk would. */
  const corrupt = new Set<string>();
  /** Per path: a hook that may replace the response (e.g. to stall a body). */
  const hooks = new Map<string, (res: Response) => Response>();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req, srv) {
      const path = new URL(req.url).pathname;
      requests.push(`${req.method} ${path}`);
      // The token flow of Docker Hub and distribution's token auth, in a few lines: /token trades
      // the right basic credentials for a token, /v2/ wants it as a bearer.
      if (opts.bearerFor) {
        const { user, password } = opts.bearerFor;
        if (path === "/token") {
          const ok = req.headers.get("authorization") === `Basic ${btoa(`${user}:${password}`)}`;
          return ok ? Response.json({ token: "t0ken" }) : new Response(null, { status: 401 });
        }
        if (req.headers.get("authorization") !== "Bearer t0ken") {
          const realm = `http://127.0.0.1:${srv.port}/token`;
          return new Response(null, { status: 401, headers: { "WWW-Authenticate": `Bearer realm="${realm}",service="origin"` } });
        }
      }
      let res = await client.app.handle(req);
      const digest = path.split("/blobs/")[1];
      if (digest && corrupt.has(digest) && req.method === "GET") {
        const bytes = new Uint8Array(await res.arrayBuffer());
        bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
        res = new Response(bytes, { status: res.status, headers: res.headers });
      }
      return hooks.get(path)?.(res) ?? res;
    },
  });
  const url = `http://127.0.0.1:${server.port}`;
  return {
    client,
    url,
    requests,
    corrupt,
    hooks,
    count: (method: string, pathPart: string) => requests.filter((r) => r.startsWith(`${method} `) && r.includes(pathPart)).length,
    stop: () => server.stop(true),
  };
}

/** An edge (in-process app over a memory driver) pulling through `url`; its log lines are kept; `client` pushes to it. */
export function createEdge(url: string, opts: Partial<UpstreamOptions> = {}) {
  const lines: string[] = [];
  const driver = createMemoryDriver();
  const client = createTestClient({ driver, log: (l) => lines.push(l), upstream: { targets: [{ prefix: "", url }], ...opts } });
  const req = (method: string, path: string, headers: Record<string, string> = {}) => client.req(method, path, { headers });
  return { app: client.app, client, driver, lines, req };
}

/** Every Accept a pulling runtime sends. */
export const ACCEPT_ALL = {
  Accept: [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
  ].join(", "),
};
