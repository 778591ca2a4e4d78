/**
 * A minimal pull-only registry client for the edge: GET/HEAD of `/v2/<name>/...` with basic
 * auth or the bearer token flow (`WWW-Authenticate: Bearer realm=...`). Written here because
 * src/registry must not import src/client.
 */
import { caBundleWith } from "../../util/ca-bundle.ts";
import type { Credentials } from "./credentials.ts";

/** Thrown when the upstream cannot be reached (refused, reset, timed out, DNS). */
export class UpstreamUnreachableError extends Error {
  override name = "UpstreamUnreachableError";
}

/** Requests against one upstream registry. */
export interface UpstreamClient {
  readonly url: string;
  /** Sends GET or HEAD for a path under /v2/<name>/; authenticates when challenged. */
  request(method: "GET" | "HEAD", name: string, path: string, headers?: Record<string, string>): Promise<Response>;
}

// Time to the response headers; bodies of large blobs may take longer and are not timed.
const HEADERS_TIMEOUT_MS = 15_000;

/**
 * Creates a client for the registry at `url`. `caPem`: a private CA (PEM) trusted beside the
 * default roots (and $SSL_CERT_FILE's) for an HTTPS upstream, as `pull` and `push` trust theirs.
 */
export function createUpstreamClient(url: string, credentials: () => Promise<Credentials | undefined>, caPem?: string): UpstreamClient {
  // Authorization header per repository (tokens are scoped to one repository's pull).
  const authorizations = new Map<string, string>();
  // Looked up on the first challenge only (a credential helper is a process to run), then kept.
  let basicOnce: Promise<string | undefined> | undefined;
  const basic = () =>
    (basicOnce ??= credentials().then((c) => c && `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`));

  const tls = caPem === undefined ? undefined : { ca: caBundleWith(caPem) };
  const send = async (method: string, target: string, headers: Record<string, string>): Promise<Response> => {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), HEADERS_TIMEOUT_MS);
    try {
      return await fetch(target, { method, headers, signal: abort.signal, redirect: "follow", ...(tls ? { tls } : {}) });
    } catch (e) {
      const why = abort.signal.aborted ? `no answer within ${HEADERS_TIMEOUT_MS / 1000} s` : (e as Error).message;
      throw new UpstreamUnreachableError(`upstream ${url} unreachable: ${why}`, { cause: e });
    } finally {
      clearTimeout(timer);
    }
  };

  const authorize = async (name: string, challenge: string): Promise<string | undefined> => {
    if (/^basic/i.test(challenge)) return basic();
    if (!/^bearer/i.test(challenge)) return undefined;
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!.toLowerCase(), m[2]!]));
    if (!params.realm) return undefined;
    const tokenUrl = new URL(params.realm);
    if (params.service) tokenUrl.searchParams.set("service", params.service);
    tokenUrl.searchParams.set("scope", params.scope ?? `repository:${name}:pull`);
    const auth = await basic();
    const res = await send("GET", tokenUrl.href, auth ? { Authorization: auth } : {});
    if (!res.ok) return undefined;
    const body = (await res.json().catch(() => ({}))) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    return token ? `Bearer ${token}` : undefined;
  };

  return {
    url,
    async request(method, name, path, headers = {}) {
      const target = `${url}/v2/${name}/${path}`;
      const known = authorizations.get(name);
      let res = await send(method, target, known ? { ...headers, Authorization: known } : headers);
      if (res.status !== 401) return res;
      const challenge = res.headers.get("www-authenticate");
      await res.body?.cancel();
      const authorization = challenge ? await authorize(name, challenge) : undefined;
      if (!authorization) return res;
      authorizations.set(name, authorization);
      res = await send(method, target, { ...headers, Authorization: authorization });
      return res;
    },
  };
}
