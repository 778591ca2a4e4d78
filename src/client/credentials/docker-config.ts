/**
 * Registry credentials in Docker's `config.json`, shared with `docker login`: in the file
 * (`auths[host].auth` = base64 "user:pass"), or with a credential helper when the file names one
 * for the registry (`credHelpers[host]`) or for all (`credsStore`), as Docker does.
 */
import { readFileSync } from "node:fs";
import { chmod, mkdir, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { DOCKER_HUB } from "../../oci/reference.ts";
import { type Credentials, helperErase, helperGet, helperStore } from "../../util/docker-credential-helper.ts";

/** Thrown when config.json exists but cannot be read as Docker's format. */
export class DockerConfigError extends Error {
  override name = "DockerConfigError";
}

/** The key Docker uses for Docker Hub in `auths`. */
const HUB_KEY = "https://index.docker.io/v1/";

/** `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function dockerConfigPath(): string {
  const dir = process.env.DOCKER_CONFIG || join(homedir(), ".docker");
  return join(dir, "config.json");
}

/** The registry host an `auths` key or a pasted address names: scheme and path removed. */
export function toRegistryHost(keyOrAddress: string): string {
  return keyOrAddress.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
}

/** The `auths` key Docker writes for a registry host. */
export function toConfigKey(registry: string): string {
  return registry === DOCKER_HUB || registry === "index.docker.io" || registry === "registry-1.docker.io" ? HUB_KEY : registry;
}

type ConfigDoc = Record<string, unknown> & {
  auths?: Record<string, Record<string, unknown>>;
  credsStore?: unknown;
  credHelpers?: Record<string, unknown>;
};

/** The credential helper config.json assigns to the registry whose `auths` key is `key`, if any. */
function helperFor(doc: ConfigDoc, key: string): string | undefined {
  const specific = doc.credHelpers?.[key] ?? doc.credHelpers?.[toRegistryHost(key)];
  if (typeof specific === "string" && specific !== "") return specific;
  return typeof doc.credsStore === "string" && doc.credsStore !== "" ? doc.credsStore : undefined;
}

// Read synchronously: it is small, and it is read before a pull's first request, which an
// asynchronous read would delay by the start of Bun's fs thread pool (3-7 ms).
function readConfig(path: string): ConfigDoc {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw error;
  }
  if (text.trim() === "") return {};
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new DockerConfigError(`${path}: invalid JSON (${(cause as Error).message})`, { cause });
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new DockerConfigError(`${path}: must be a JSON object`);
  const auths = (doc as ConfigDoc).auths;
  if (auths !== undefined && (typeof auths !== "object" || auths === null || Array.isArray(auths))) {
    throw new DockerConfigError(`${path}: "auths" must be an object`);
  }
  const helpers = (doc as ConfigDoc).credHelpers;
  if (helpers !== undefined && (typeof helpers !== "object" || helpers === null || Array.isArray(helpers))) {
    throw new DockerConfigError(`${path}: "credHelpers" must be an object`);
  }
  return doc as ConfigDoc;
}

/** Decodes one `auths` entry: `auth` (base64 user:pass) or `username`/`password`. */
export function parseAuthEntry(entry: Record<string, unknown>): Credentials | undefined {
  if (typeof entry.auth === "string" && entry.auth !== "") {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon <= 0) return undefined;
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (typeof entry.username === "string" && typeof entry.password === "string") {
    return { username: entry.username, password: entry.password };
  }
  return undefined;
}

/**
 * The stored credentials for `registry`: from its credential helper when one is configured,
 * else (or when the helper holds none) from the file, accepting the key spellings Docker has
 * used (bare host, with scheme, with /v1/).
 */
export async function readCredentials(registry: string, path = dockerConfigPath()): Promise<Credentials | undefined> {
  const doc = await readConfig(path);
  const key = toConfigKey(registry);
  const helper = helperFor(doc, key);
  if (helper) {
    const creds = await helperGet(helper, key);
    if (creds) return creds;
  }
  const auths = doc.auths ?? {};
  const candidates = [key, `https://${key}`, `http://${key}`, `https://${key}/v1/`, `http://${key}/v1/`];
  for (const candidate of candidates) {
    const entry = auths[candidate];
    if (entry && typeof entry === "object") {
      const creds = parseAuthEntry(entry);
      if (creds) return creds;
    }
  }
  for (const [k, entry] of Object.entries(auths)) {
    if (toRegistryHost(k) === key && entry && typeof entry === "object") {
      const creds = parseAuthEntry(entry);
      if (creds) return creds;
    }
  }
  return undefined;
}

/**
 * Stores credentials for `registry` with its credential helper, or else in the file; every other
 * key of the file is kept intact and the file is 0600. Returns where they went.
 */
export async function saveCredentials(registry: string, creds: Credentials, path = dockerConfigPath()): Promise<string> {
  const doc = await readConfig(path);
  const key = toConfigKey(registry);
  const auths = { ...(doc.auths ?? {}) };
  const helper = helperFor(doc, key);
  if (helper) {
    await helperStore(helper, key, creds);
    // As Docker does: the file keeps an entry without the secret, so the registry is listed.
    const { auth: _secret, password: _password, ...rest } = auths[key] ?? {};
    auths[key] = rest;
    await writeConfig(path, { ...doc, auths });
    return `docker-credential-${helper}`;
  }
  auths[key] = { ...(auths[key] ?? {}), auth: Buffer.from(`${creds.username}:${creds.password}`).toString("base64") };
  await writeConfig(path, { ...doc, auths });
  return path;
}

/** Removes the credentials of `registry` from its helper and the file; returns false when there were none. */
export async function removeCredentials(registry: string, path = dockerConfigPath()): Promise<boolean> {
  const doc = await readConfig(path);
  const auths = { ...(doc.auths ?? {}) };
  const key = toConfigKey(registry);
  const helper = helperFor(doc, key);
  const erased = helper ? await helperErase(helper, key) : false;
  const keys = Object.keys(auths).filter((k) => k === key || toRegistryHost(k) === key);
  if (keys.length === 0) return erased;
  for (const k of keys) delete auths[k];
  await writeConfig(path, { ...doc, auths });
  return true;
}

// Temp file + rename so a crash never leaves a truncated config that docker would then refuse.
async function writeConfig(path: string, doc: ConfigDoc): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}-${crypto.randomUUID()}.tmp`;
  await writeFile(tmp, `${JSON.stringify(doc, null, "\t")}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}
