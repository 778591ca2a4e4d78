/**
 * Credentials for an upstream: `--upstream-user` with the password in TDFS_UPSTREAM_PASSWORD,
 * else what Docker's config.json holds for that host: its credential helper (`credHelpers` for
 * the host, else `credsStore`), then the `auths` entry. Read here because src/registry must not
 * import the client's credential code; the helper protocol is shared, in util.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { type Credentials, helperGet } from "../../util/docker-credential-helper.ts";

export type { Credentials } from "../../util/docker-credential-helper.ts";

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string }>;
  credHelpers?: Record<string, unknown>;
  credsStore?: unknown;
}

/**
 * Credentials for `url`: the explicit user first, then Docker's config. Throws when a configured
 * credential helper is missing or fails (CredentialHelperError), so the caller can say so.
 */
export async function findCredentials(url: string, user: string | undefined, env = process.env): Promise<Credentials | undefined> {
  if (user !== undefined) return { username: user, password: env.TDFS_UPSTREAM_PASSWORD ?? "" };
  const file = join(env.DOCKER_CONFIG || join(homedir(), ".docker"), "config.json");
  let config: DockerConfig;
  try {
    config = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
  const host = new URL(url).host;
  // config.json keys may carry a scheme or a path ("https://host/v1/"): compare the host part.
  const forHost = <T>(map: Record<string, T> | undefined) => Object.entries(map ?? {}).find(([key]) => key.replace(/^[a-z]+:\/\//, "").replace(/\/.*$/, "") === host)?.[1];
  const helper = forHost(config.credHelpers) ?? config.credsStore;
  if (typeof helper === "string" && helper !== "") {
    const fromHelper = await helperGet(helper, host);
    if (fromHelper) return fromHelper;
  }
  const entry = forHost(config.auths);
  if (!entry) return undefined;
  if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  if (!entry.auth) return undefined;
  const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon > 0 ? { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) } : undefined;
}
