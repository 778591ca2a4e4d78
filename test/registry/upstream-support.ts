/** An origin registry on a real 127.0.0.1 socket that records every request, and an in-process edge in front of it. */
import { createRegistryApp } from "../../src/registry/app.ts";
import { createMemoryDriver } from "../../src/registry/driver/memory.ts";
import type { UpstreamOptions } from "../../src/registry/upstream/upstream.ts";
import { createTestClient } from "./helpers.ts";

/** A running origin: `requests` lists "METHOD /path" of everything it was asked. */
export function startOrigin(opts: { htpasswd?: string } = {}) {
  const client = createTestClient({ htpasswd: opts.htpasswd });
  const requests: string[] = [];
  /** Blob digests whose bodies the origin flips one byte of (same length), as a damaged disk would. */
  const corrupt = new Set<string>();
  /** Per path: a hook that may replace the response (e.g. to stall a body). */
  const hooks = new Map<string, (res: Response) => Response>();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      requests.push(`${req.method} ${path}`);
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

/** An edge (in-process app over a memory driver) pulling through `url`; its log lines are kept. */
export function createEdge(url: string, opts: Partial<UpstreamOptions> = {}) {
  const lines: string[] = [];
  const driver = createMemoryDriver();
  const app = createRegistryApp({ driver, log: (l) => lines.push(l), upstream: { targets: [{ prefix: "", url }], ...opts } });
  const req = (method: string, path: string, headers: Record<string, string> = {}) =>
    app.handle(new Request(`http://localhost${path}`, { method, headers }));
  return { app, driver, lines, req };
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
