/**
 * Docker credential helpers (`credsStore` / `credHelpers` in config.json): the programs
 * `docker-credential-NAME` that keep passwords in a keychain instead of the file. The protocol:
 * the action (`get`, `store`, `erase`) is the first argument, the input is on stdin (the server
 * URL, or a JSON object for `store`), and `get` answers `{"ServerURL","Username","Secret"}`.
 * Here in util because both the client (pull, push, login) and an edge's upstream use them.
 */

/** A user name and password (or token) for one registry. */
export interface Credentials {
  username: string;
  password: string;
}

/** Thrown when a configured helper is missing or fails. */
export class CredentialHelperError extends Error {
  override name = "CredentialHelperError";
}

/** What helpers print when they hold nothing for a server (docker-credential-helpers' wording). */
const NOT_FOUND = /credentials not found/i;

/** Answers larger than this are not credentials. */
const MAX_OUTPUT = 64 * 1024;

/** Helper names are a word: they become part of an executable's name. */
const HELPER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The executable of helper `name`, or an error that says what to install. */
function helperProgram(name: string): string {
  if (!HELPER_NAME.test(name)) throw new CredentialHelperError(`"${name}" is not a valid credential helper name in Docker's config.json`);
  const program = `docker-credential-${name}`;
  const path = Bun.which(program, { PATH: process.env.PATH ?? "" });
  if (!path) throw new CredentialHelperError(`Docker's config.json names the credential helper "${name}", but ${program} is not on PATH`);
  return path;
}

async function runHelper(name: string, action: "get" | "store" | "erase", input: string): Promise<{ ok: boolean; out: string }> {
  const proc = Bun.spawn([helperProgram(name), action], { env: process.env, stdin: new TextEncoder().encode(input), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (out.length > MAX_OUTPUT) throw new CredentialHelperError(`docker-credential-${name} ${action}: answered more than ${MAX_OUTPUT} bytes`);
  // Helpers report "not found" on stdout or stderr depending on their age.
  return { ok: code === 0, out: code === 0 ? out : `${out}\n${err}`.trim() };
}

/** The credentials helper `name` holds for `serverUrl`, or undefined when it holds none. */
export async function helperGet(name: string, serverUrl: string): Promise<Credentials | undefined> {
  const { ok, out } = await runHelper(name, "get", serverUrl);
  if (!ok) {
    if (NOT_FOUND.test(out)) return undefined;
    throw new CredentialHelperError(`docker-credential-${name} get ${serverUrl} failed: ${out || "no message"}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(out);
  } catch {
    throw new CredentialHelperError(`docker-credential-${name} get ${serverUrl}: the answer is not JSON`);
  }
  const { Username, Secret } = (doc ?? {}) as Record<string, unknown>;
  if (typeof Username !== "string" || typeof Secret !== "string") {
    throw new CredentialHelperError(`docker-credential-${name} get ${serverUrl}: the answer lacks "Username" and "Secret"`);
  }
  if (Secret === "") return undefined;
  // "<token>" marks an identity token (an OAuth refresh token), which 2dfs cannot exchange.
  if (Username === "<token>") {
    throw new CredentialHelperError(`docker-credential-${name} holds an identity token for ${serverUrl}; 2dfs needs a user name and password: run 2dfs login`);
  }
  return { username: Username, password: Secret };
}

/** Stores credentials with helper `name`. */
export async function helperStore(name: string, serverUrl: string, creds: Credentials): Promise<void> {
  const input = JSON.stringify({ ServerURL: serverUrl, Username: creds.username, Secret: creds.password });
  const { ok, out } = await runHelper(name, "store", input);
  if (!ok) throw new CredentialHelperError(`docker-credential-${name} store ${serverUrl} failed: ${out || "no message"}`);
}

/** Erases what helper `name` holds for `serverUrl`; false when it held nothing. */
export async function helperErase(name: string, serverUrl: string): Promise<boolean> {
  const { ok, out } = await runHelper(name, "erase", serverUrl);
  if (ok) return true;
  if (NOT_FOUND.test(out)) return false;
  throw new CredentialHelperError(`docker-credential-${name} erase ${serverUrl} failed: ${out || "no message"}`);
}
