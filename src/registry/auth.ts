/** HTTP basic authentication against an htpasswd file of bcrypt hashes. */
import { createLru } from "./storage/lru.ts";

/** Thrown for an htpasswd file that cannot be used. */
export class HtpasswdError extends Error {
  override name = "HtpasswdError";
}

/** The challenge Docker and other clients expect with a 401. */
export const BASIC_CHALLENGE = 'Basic realm="2dfs"';

/** Parses htpasswd text into user -> bcrypt hash; only bcrypt (`$2a$`, `$2b$`, `$2y$`) is accepted. */
export function parseHtpasswd(text: string): Map<string, string> {
  const users = new Map<string, string>();
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const colon = trimmed.indexOf(":");
    if (colon <= 0) throw new HtpasswdError(`htpasswd line ${i + 1}: expected user:hash`);
    const hash = trimmed.slice(colon + 1);
    if (!/^\$2[aby]\$\d\d\$/.test(hash)) {
      throw new HtpasswdError(`htpasswd line ${i + 1}: only bcrypt hashes are supported (htpasswd -B)`);
    }
    users.set(trimmed.slice(0, colon), hash);
  });
  return users;
}

/** A basic-auth checker: resolves to the user name, or undefined when the credentials are missing or wrong. */
export function createBasicAuth(htpasswd: string): (request: Request) => Promise<string | undefined> {
  const users = parseHtpasswd(htpasswd);
  // bcrypt costs tens of milliseconds by design: remember credentials already verified.
  const verified = createLru<string, string>({ maxEntries: 1024 });
  return async (request) => {
    const header = request.headers.get("authorization");
    if (!header?.toLowerCase().startsWith("basic ")) return undefined;
    const token = header.slice(6).trim();
    const known = verified.get(token);
    if (known !== undefined) return known;
    let decoded: string;
    try {
      decoded = Buffer.from(token, "base64").toString("utf8");
    } catch {
      return undefined;
    }
    const colon = decoded.indexOf(":");
    if (colon < 0) return undefined;
    const user = decoded.slice(0, colon);
    const hash = users.get(user);
    if (!hash) return undefined;
    // Bun's verifier reads $2y$ and $2b$ alike.
    const ok = await Bun.password.verify(decoded.slice(colon + 1), hash.replace(/^\$2y\$/, "$2b$"), "bcrypt").catch(() => false);
    if (!ok) return undefined;
    verified.set(token, user);
    return user;
  };
}
