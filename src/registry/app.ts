/** The registry as an Elysia app: authentication, access log and error envelopes around the routes. */
import { Elysia } from "elysia";
import { OciError } from "../oci/errors.ts";
import { StorageFullError } from "./driver/storage-full.ts";
import { StorageUnavailableError } from "./driver/storage-unavailable.ts";
import { BASIC_CHALLENGE, type BasicAuthOptions, createBasicAuth } from "./auth.ts";
import type { SessionHashes } from "../hash/session-hashes.ts";
import type { StorageDriver } from "./driver/driver.ts";
import { createRegistry } from "./registry.ts";
import type { DerivedLimits } from "./services/derived-store.ts";
import { dispatch } from "./routes/dispatch.ts";
import { API_VERSION_HEADER, errorResponse, jsonResponse } from "./routes/http.ts";
import { serveUi } from "./ui/routes.ts";
import { metricsResponse } from "./metrics.ts";
import { CACHE_HEADER, type UpstreamOptions } from "./upstream/upstream.ts";

/** Options of a registry app. */
export interface RegistryAppOptions {
  driver: StorageDriver;
  readOnly?: boolean;
  /** Contents of a bcrypt htpasswd file; when given every request must authenticate. */
  htpasswd?: string;
  /** Tuning of the password checks (cache time, concurrency, failure limits). */
  auth?: BasicAuthOptions;
  /** Receives one access-log line per request. */
  log?: (line: string) => void;
  /** Caps of the generated-partition cache (tests use small ones). */
  derivedLimits?: Partial<DerivedLimits>;
  /** Where uploads are hashed (the server passes its hashing thread); default this thread. */
  hashThread?: SessionHashes;
  /** Serve the web page at `/` (behind the same authentication); `2dfs serve --no-ui` turns it off. */
  ui?: boolean;
  /** Answer blob GETs with a redirect to the store's presigned URL (object storage only). */
  redirect?: boolean;
  /** Pull-through cache settings (`serve --upstream`); its log lines go to `log` unless it has its own. */
  upstream?: UpstreamOptions;
  /** The `tier` label of /metrics (default "edge" with an upstream, else "origin"). */
  tier?: string;
}

/** Creates the registry's Elysia app (call `.handle(request)` in-process or `.listen()`). */
export function createRegistryApp(opts: RegistryAppOptions) {
  const registry = createRegistry(opts.driver, { readOnly: opts.readOnly, redirect: opts.redirect, derivedLimits: opts.derivedLimits, hashThread: opts.hashThread,
    upstream: opts.upstream && { log: opts.log, ...opts.upstream }, tier: opts.tier });
  const authenticate = opts.htpasswd !== undefined ? createBasicAuth(opts.htpasswd, opts.auth) : undefined;
  const log = opts.log;

  const handle = async (request: Request, ip: string | undefined): Promise<Response> => {
    const started = performance.now();
    const url = new URL(request.url);
    let user: string | undefined;
    let response: Response;
    try {
      const outcome = authenticate ? await authenticate(request, ip) : undefined;
      if (outcome?.kind === "user") user = outcome.user;
      if (outcome?.kind === "denied") {
        throw new OciError("UNAUTHORIZED", "authentication required: log in with a user of the htpasswd file");
      }
      response =
        outcome?.kind === "throttled"
          ? errorResponse(new OciError("TOOMANYREQUESTS", `${outcome.reason}: retry in ${outcome.retryAfter} s`), {
              "Retry-After": String(outcome.retryAfter),
            })
          : url.pathname === "/metrics" ? metricsResponse(registry.metrics)
          : ((opts.ui ? await serveUi(registry, request, url) : undefined) ?? (await dispatch(registry, request, url)));
    } catch (e) {
      response = toErrorResponse(e, log);
    }
    for (const [k, v] of Object.entries(API_VERSION_HEADER)) response.headers.set(k, v);
    if (response.status === 401) response.headers.set("WWW-Authenticate", BASIC_CHALLENGE);
    const length = response.headers.get("content-length") ?? "-";
    if (request.method === "GET" && response.ok && url.pathname.startsWith("/v2/")) registry.metrics.served(Number(length) || 0);
    if (log) {
      const ms = (performance.now() - started).toFixed(1);
      const cache = response.headers.get(CACHE_HEADER);
      log(`${ip ?? "-"} ${user ?? "-"} "${request.method} ${url.pathname}${url.search}" ${response.status} ${length} ${ms}ms${cache ? ` cache=${cache}` : ""}`);
    }
    return response;
  };

  // One catch-all route: repository names contain slashes, so paths are matched in routes/paths.ts.
  return new Elysia().all("/*", ({ request, server }) => handle(request, server?.requestIP(request)?.address), {
    parse: "none",
  });
}

function toErrorResponse(e: unknown, log: ((line: string) => void) | undefined): Response {
  if (e instanceof OciError) return errorResponse(e);
  // A remote store (S3) that failed or went away: 503 with what failed, so clients retry later.
  if (e instanceof StorageUnavailableError) {
    log?.(`storage unavailable: ${e.message}`);
    return jsonResponse({ errors: [{ code: "UNAVAILABLE", message: e.message, detail: e.message }] }, { "Retry-After": "5" }, 503);
  }
  log?.(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  const detail = e instanceof Error ? e.message : String(e);
  // A full disk outside an upload (e.g. a manifest PUT): 507, not retried, named in the message clients print.
  const full = e instanceof StorageFullError;
  return jsonResponse({ errors: [{ code: "UNKNOWN", message: full ? detail : "unknown error", detail }] }, {}, full ? 507 : 500);
}
