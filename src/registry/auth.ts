/**
 * HTTP basic authentication against an htpasswd file of bcrypt hashes, hardened against
 * user probing and floods:
 * - an unknown user is checked against a dummy hash of the file's highest cost, so a wrong
 *   user name takes as long as a wrong password;
 * - a correct header is remembered for a short time under its SHA-256 (never the raw
 *   credentials); the file is read once at start, so nothing else invalidates the cache;
 * - uncached checks are limited per client address (token bucket, 429 with Retry-After) and
 *   run one or few at a time (verify-gate.ts), so a flood of wrong passwords cannot starve
 *   the thread pool that file I/O shares; a 429 is held for a second before it is sent. A
 *   remembered header skips all this: a valid user who has logged in keeps working while
 *   others at the same address are throttled.
 */
import { availableParallelism } from "node:os";
import { createFailureLimiter, type FailureLimits } from "./failure-limiter.ts";
import { createLru } from "./storage/lru.ts";
import { GateFullError, createVerifyGate } from "./verify-gate.ts";

/** Thrown for an htpasswd file that cannot be used. */
export class HtpasswdError extends Error {
  override name = "HtpasswdError";
}

/** The challenge Docker and other clients expect with a 401. */
export const BASIC_CHALLENGE = 'Basic realm="2dfs"';

const BCRYPT = /^\$2[aby]\$(\d\d)\$/;

/** Parses htpasswd text into user -> bcrypt hash; only bcrypt (`$2a$`, `$2b$`, `$2y$`) is accepted. */
export function parseHtpasswd(text: string): Map<string, string> {
  const users = new Map<string, string>();
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const colon = trimmed.indexOf(":");
    if (colon <= 0) throw new HtpasswdError(`htpasswd line ${i + 1}: expected user:hash`);
    const hash = trimmed.slice(colon + 1);
    if (!BCRYPT.test(hash)) {
      throw new HtpasswdError(`htpasswd line ${i + 1}: only bcrypt hashes are supported (htpasswd -B)`);
    }
    users.set(trimmed.slice(0, colon), hash);
  });
  return users;
}

/** What a request's credentials come to. */
export type AuthOutcome =
  | { kind: "user"; user: string }
  /** Missing, malformed or wrong credentials (401). */
  | { kind: "denied" }
  /** Too many failures from this address, or too many checks waiting (429). */
  | { kind: "throttled"; retryAfter: number; reason: string };

/** Tuning of the basic-auth checker (tests use small values). */
export interface BasicAuthOptions {
  /** How long a verified header is remembered (default 60 s). */
  cacheTtlMs?: number;
  /** bcrypt checks running at once (default half the cores, at least 1). */
  verifyConcurrency?: number;
  /** bcrypt checks allowed to wait for a turn (default 8). */
  verifyQueue?: number;
  failureLimits?: Partial<FailureLimits>;
  /** How long a 429 is held before it is sent (default 1000 ms). */
  throttleDelayMs?: number;
  now?: () => number;
}

/** A basic-auth checker: `address` is the client's IP address (the failure limiter's key). */
export type BasicAuth = (request: Request, address: string | undefined) => Promise<AuthOutcome>;

const DENIED: AuthOutcome = { kind: "denied" };

/** Creates a checker for the users of an htpasswd file. */
export function createBasicAuth(htpasswd: string, opts: BasicAuthOptions = {}): BasicAuth {
  const users = parseHtpasswd(htpasswd);
  const now = opts.now ?? performance.now.bind(performance);
  const ttl = opts.cacheTtlMs ?? 60_000;
  const verified = createLru<string, { user: string; until: number }>({ maxEntries: 1024 });
  const limiter = createFailureLimiter(opts.failureLimits, now);
  const gate = createVerifyGate(opts.verifyConcurrency ?? Math.max(1, Math.floor(availableParallelism() / 2)), opts.verifyQueue ?? 8);
  // A refused client that waits for its answer (as most do) sends one request a second instead
  // of thousands: each costs the server little, but a flood of them took the CPU valid users need.
  const throttled = async (retryAfter: number, reason: string): Promise<AuthOutcome> => {
    await Bun.sleep(opts.throttleDelayMs ?? 1000);
    return { kind: "throttled", retryAfter, reason };
  };
  // Unknown users cost as much as the dearest known one; made once, in the background, at start.
  const cost = Math.max(4, ...[...users.values()].map((h) => Number(BCRYPT.exec(h)![1])));
  const dummy = Bun.password.hash(crypto.randomUUID(), { algorithm: "bcrypt", cost });

  return async (request, address) => {
    const header = request.headers.get("authorization");
    if (!header?.toLowerCase().startsWith("basic ")) return DENIED;
    const key = new Bun.CryptoHasher("sha256").update(header).digest("hex");
    const known = verified.get(key);
    if (known && known.until > now()) return { kind: "user", user: known.user };
    const credentials = decodeBasic(header.slice(6).trim());
    if (!credentials) return DENIED;

    const client = address ?? "-";
    const wait = limiter.take(client);
    if (wait > 0) return throttled(wait, "too many failed logins from this address");
    const hash = users.get(credentials.user);
    let ok: boolean;
    try {
      // Bun's verifier reads $2y$ and $2b$ alike.
      const against = (hash ?? (await dummy)).replace(/^\$2y\$/, "$2b$");
      ok = await gate.run(() => Bun.password.verify(credentials.password, against, "bcrypt").catch(() => false));
    } catch (e) {
      if (!(e instanceof GateFullError)) throw e;
      // Not a failure of this client's password: give the attempt back.
      limiter.refund(client);
      return throttled(1, "too many password checks waiting");
    }
    if (!ok || hash === undefined) return DENIED;
    limiter.refund(client);
    verified.set(key, { user: credentials.user, until: now() + ttl });
    return { kind: "user", user: credentials.user };
  };
}

function decodeBasic(token: string): { user: string; password: string } | undefined {
  const decoded = Buffer.from(token, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
