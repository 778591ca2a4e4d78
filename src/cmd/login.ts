/** `2dfs login REGISTRY` / `2dfs logout REGISTRY`: credentials in Docker's config.json, checked against /v2/ first. */
import { removeCredentials, saveCredentials, toRegistryHost } from "../client/credentials/docker-config.ts";
import { AuthenticationError } from "../client/errors.ts";
import { createRegistryClient } from "../client/transport/registry-client.ts";
import { UsageError } from "./errors.ts";
import { promptLine, promptSecret } from "./prompt.ts";

/** Flags of `2dfs login`. */
export interface LoginFlags {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
  /** Where to read the password from with --password-stdin (tests pass a stream). */
  stdin?: ReadableStream<Uint8Array>;
  /** A PEM CA file trusted for HTTPS besides the defaults. */
  caCert?: string;
}

/** Verifies the credentials against the registry and saves them. */
export async function loginCommand(registry: string, flags: LoginFlags): Promise<void> {
  const host = normaliseRegistry(registry);
  let username = flags.username;
  let password = flags.password;
  if (flags.passwordStdin) {
    if (password !== undefined) throw new UsageError("--password and --password-stdin are mutually exclusive");
    password = (await new Response(flags.stdin ?? Bun.stdin.stream()).text()).replace(/\r?\n$/, "");
  }
  if (username === undefined || password === undefined) {
    if (!process.stdin.isTTY) throw new UsageError("missing credentials", `echo "$PASSWORD" | 2dfs login ${host} -u USER --password-stdin`);
    username ??= await promptLine("Username: ");
    password ??= await promptSecret("Password: ");
  }
  if (!username) throw new UsageError("the user name is empty");
  if (!password) throw new UsageError("the password is empty");
  const scheme = /^(https?):\/\//i.exec(registry)?.[1]?.toLowerCase() as "https" | "http" | undefined; // a URL's scheme is kept
  const client = await createRegistryClient({ registry: host, scheme, credentials: { username, password }, caCert: flags.caCert });
  try {
    await client.ping();
  } catch (error) {
    // The client's own message speaks of stored credentials; here nothing was stored yet.
    const why = error instanceof AuthenticationError ? `the registry refused the user "${username}" or its password` : (error as Error).message;
    throw new AuthenticationError(`login to ${host} failed: ${why}; nothing was saved`, { cause: error });
  }
  const where = await saveCredentials(host, { username, password });
  process.stderr.write(`Login succeeded; credentials saved in ${where}\n`);
}

/** Removes the saved credentials of a registry. */
export async function logoutCommand(registry: string): Promise<void> {
  const host = normaliseRegistry(registry);
  const removed = await removeCredentials(host);
  process.stderr.write(removed ? `Removed the credentials of ${host}\n` : `No credentials were saved for ${host}\n`);
}

// Accept what people paste: a URL or a host with a trailing slash.
function normaliseRegistry(input: string): string {
  const host = toRegistryHost(input);
  if (!host) throw new UsageError(`"${input}" is not a registry host`, "2dfs login 127.0.0.1:5000");
  return host;
}
