/**
 * The web page of `2dfs serve`: `/` and its two assets, from memory, and the page's one endpoint
 * beside the /v2 API (a layer's file names, layer-files.ts). Everything else is left to the
 * registry's routes.
 */
import type { Registry } from "../registry.ts";
import { bundleUiAssets } from "./assets.ts" with { type: "macro" };
import { isLayerFilesPath, serveLayerFiles } from "./layer-files.ts";

const assets = bundleUiAssets();

// The page may talk to this origin only: no CDN, no third-party request, no inline script.
const SECURITY_HEADERS = {
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-cache",
};

const FILES: Record<string, { body: string; type: string }> = {
  "/": { body: assets.html, type: "text/html; charset=utf-8" },
  "/ui/app.js": { body: assets.js, type: "text/javascript; charset=utf-8" },
  "/ui/app.css": { body: assets.css, type: "text/css; charset=utf-8" },
};

/** The page's response to a request for one of its paths, or undefined for any other request. */
export async function serveUi(reg: Registry, request: Request, url: URL): Promise<Response | undefined> {
  if (isLayerFilesPath(url.pathname)) return serveLayerFiles(reg, request, url);
  const file = FILES[url.pathname];
  if (!file || (request.method !== "GET" && request.method !== "HEAD")) return undefined;
  return new Response(request.method === "HEAD" ? null : file.body, {
    headers: { "Content-Type": file.type, "Content-Length": String(Buffer.byteLength(file.body)), ...SECURITY_HEADERS },
  });
}
