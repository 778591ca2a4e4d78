/** Registry authentication: parses `WWW-Authenticate`, runs the bearer-token flow, and caches the result per scope. */
import type { Credentials } from "../../util/docker-credential-helper.ts";
import { AuthenticationError } from "../errors.ts";

/** One challenge of a `WWW-Authenticate` header. */
export interface AuthChallenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Bearer realm="...",service="...",scope="..."` (several challenges and quoted commas allowed). */
export function parseAuthenticateHeader(header: string): AuthChallenge[] {
  const out: AuthChallenge[] = [];
  let current: AuthChallenge | undefined;
  let i = 0;
  while (i < header.length) {
    // A parameter is tried first so `realm=` is never read as a new scheme.
    const param = /\s*([A-Za-z0-9._~+/-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?/y;
    param.lastIndex = i;
    const p = param.exec(header);
    if (p && current) {
      current.params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? "").replace(/\\(.)/g, "$1");
      i = param.lastIndex;
      continue;
    }
    const scheme = /\s*,?\s*([A-Za-z][A-Za-z0-9._~+/-]*)\s*/y;
    scheme.lastIndex = i;
    const s = scheme.exec(header);
    if (!s || scheme.lastIndex === i) break;
    current = { scheme: s[1]!.toLowerCase(), params: {} };
    out.push(current);
    i = scheme.lastIndex;
  }
  return out;
}

/** What the client needs from an authenticator. */
export interface Authenticator {
  /** The Authorization header value to send for `scopes`, if known already. */
  header(scopes: readonly string[]): string | undefined;
  /** Reacts to a 401 of a request sent with `sent` (its Authorization): obtains a token or switches to basic auth. Returns false when retrying cannot help. */
  challenge(header: string | null, scopes: readonly string[], sent: string | undefined): Promise<boolean>;
}

/** The `Authorization: Basic` value for credentials. */
export function toBasicHeader(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}`;
}

/**
 * Creates an authenticator. Tokens are cached per scope set; basic auth, once asked for, is sent
 * up front on every later request (the registry then never answers 401 again).
 */
export function createAuthenticator(opts: {
  credentials?: Credentials;
  fetchToken: (url: URL, headers: Record<string, string>) => Promise<Response>;
}): Authenticator {
  const tokens = new Map<string, { value: string; expires: number }>();
  let basic = false;
  const key = (scopes: readonly string[]) => [...scopes].sort().join(" ");

  const getToken = async (params: Record<string, string>, scopes: readonly string[]): Promise<void> => {
    const realm = params.realm;
    if (!realm) throw new AuthenticationError("the registry asked for a bearer token but named no realm");
    const url = new URL(realm);
    if (params.service) url.searchParams.set("service", params.service);
    const wanted = scopes.length > 0 ? scopes : params.scope ? params.scope.split(" ") : [];
    for (const s of wanted) url.searchParams.append("scope", s);
    const headers: Record<string, string> = {};
    if (opts.credentials) headers.Authorization = toBasicHeader(opts.credentials);
    const res = await opts.fetchToken(url, headers);
    if (res.status === 401 || res.status === 403) {
      throw new AuthenticationError(
        opts.credentials ? `the token service ${url.origin} refused the credentials (HTTP ${res.status})` : `the token service ${url.origin} requires credentials: run 2dfs login`,
      );
    }
    if (!res.ok) throw new AuthenticationError(`the token service ${url.origin} answered HTTP ${res.status}`);
    const doc = (await res.json().catch(() => ({}))) as { token?: unknown; access_token?: unknown; expires_in?: unknown };
    const value = typeof doc.token === "string" ? doc.token : typeof doc.access_token === "string" ? doc.access_token : undefined;
    if (!value) throw new AuthenticationError(`the token service ${url.origin} returned no token`);
    const ttl = typeof doc.expires_in === "number" && doc.expires_in > 0 ? doc.expires_in : 60;
    // Renew a little early so a long transfer never starts with a token about to expire.
    tokens.set(key(scopes), { value, expires: Date.now() + Math.max(10, ttl - 10) * 1000 });
  };

  const inflight = new Map<string, Promise<void>>();
  const header = (scopes: readonly string[]): string | undefined => {
    if (basic && opts.credentials) return toBasicHeader(opts.credentials);
    const t = tokens.get(key(scopes));
    if (t && t.expires > Date.now()) return `Bearer ${t.value}`;
    return undefined;
  };

  return {
    header,
    async challenge(value, scopes, sent) {
      // Parallel requests meet the same 401: when another one already fixed auth, just retry.
      const now = header(scopes);
      if (now !== undefined && now !== sent) return true;
      const challenges = parseAuthenticateHeader(value ?? "");
      const b = challenges.find((c) => c.scheme === "bearer");
      if (b) {
        // A fresh token that is still refused means the account lacks the access: asking again cannot help.
        if (now !== undefined) {
          throw new AuthenticationError(`the registry denied access to ${scopes.join(" ") || "it"} with the token it issued`);
        }
        const k = key(scopes);
        let pending = inflight.get(k);
        if (!pending) {
          pending = getToken(b.params, scopes).finally(() => inflight.delete(k));
          inflight.set(k, pending);
        }
        await pending;
        return true;
      }
      if (challenges.some((c) => c.scheme === "basic") || challenges.length === 0) {
        if (!opts.credentials) throw new AuthenticationError("the registry requires credentials: run 2dfs login REGISTRY");
        if (basic) throw new AuthenticationError("the registry refused the stored credentials: run 2dfs login REGISTRY again");
        basic = true;
        return true;
      }
      throw new AuthenticationError(`unsupported authentication scheme "${challenges[0]!.scheme}"`);
    },
  };
}
