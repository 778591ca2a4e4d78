/**
 * Credentials for an upstream: `--upstream-user` with the password in TDFS_UPSTREAM_PASSWORD,
 * else the `auths` entry of Docker's config.json for that host. Read here in a few lines
 * because src/registry must not import the client's credential code.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** A user name and password for basic auth or a token request. */
export interface Credentials {
  username: string;
  password: string;
}

/** Credentials for `url` (read once at start-up): the explicit user first, then Docker's config (credential helpers are not run). */
export function findCredentials(url: string, user: string | undefined, env = process.env): Credentials | undefined {
  if (user !== undefined) return { username: user, password: env.TDFS_UPSTREAM_PASSWORD ?? "" };
  const file = join(env.DOCKER_CONFIG || join(homedir(), ".docker"), "config.json");
  let config: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  try {
    config = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
  const host = new URL(url).host;
  const entry = Object.entries(config.auths ?? {}).find(([key]) => key.replace(/^[a-z]+:\/\//, "").replace(/\/.*$/, "") === host)?.[1];
  if (!entry) return undefined;
  if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  if (!entry.auth) return undefined;
  const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon > 0 ? { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) } : undefined;
}
