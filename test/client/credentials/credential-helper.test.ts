/**
 * Docker credential helpers, run as real programs on PATH: a small shell keychain that speaks
 * the docker-credential-helpers protocol (get/store/erase on stdin, JSON answers, "credentials
 * not found" when it holds nothing), keeping its secrets in a folder the test can inspect.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CredentialHelperError } from "../../../src/util/docker-credential-helper.ts";
import { readCredentials, removeCredentials, saveCredentials } from "../../../src/client/credentials/docker-config.ts";

const KEYCHAIN = `#!/bin/sh
# docker-credential-testkeychain: one file per server URL under $TDFS_TEST_KEYCHAIN.
set -e
[ -d "$TDFS_TEST_KEYCHAIN" ] || { echo "TDFS_TEST_KEYCHAIN is not set" >&2; exit 3; }
name() { printf '%s' "$1" | od -An -tx1 | tr -d ' \\n'; }
case "$1" in
  store)
    input=$(cat)
    url=$(printf '%s' "$input" | sed -n 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/p')
    printf '%s' "$input" > "$TDFS_TEST_KEYCHAIN/$(name "$url")" ;;
  get)
    url=$(cat)
    f="$TDFS_TEST_KEYCHAIN/$(name "$url")"
    if [ ! -f "$f" ]; then echo "credentials not found in native keychain"; exit 1; fi
    cat "$f" ;;
  erase)
    url=$(cat)
    f="$TDFS_TEST_KEYCHAIN/$(name "$url")"
    if [ ! -f "$f" ]; then echo "credentials not found in native keychain"; exit 1; fi
    rm "$f" ;;
  *) echo "unknown action $1" >&2; exit 2 ;;
esac
`;

let dir: string;
let bin: string;
let keychain: string;
const savedPath = process.env.PATH;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "2dfs-credhelper-"));
  bin = join(dir, "bin");
  keychain = join(dir, "keychain");
  await Bun.$`mkdir -p ${bin} ${keychain}`;
  const write = async (name: string, text: string) => {
    await writeFile(join(bin, name), text);
    await chmod(join(bin, name), 0o755);
  };
  await write("docker-credential-testkeychain", KEYCHAIN);
  await write("docker-credential-broken", "#!/bin/sh\necho 'the keyring is locked' >&2\nexit 1\n");
  await write("docker-credential-garbled", "#!/bin/sh\necho 'not json'\n");
  await write("docker-credential-oauth", '#!/bin/sh\necho \'{"ServerURL":"x","Username":"<token>","Secret":"refresh"}\'\n');
  process.env.PATH = `${bin}:${savedPath}`;
  process.env.TDFS_TEST_KEYCHAIN = keychain;
});

afterAll(async () => {
  process.env.PATH = savedPath;
  delete process.env.TDFS_TEST_KEYCHAIN;
  await rm(dir, { recursive: true, force: true });
});

afterEach(async () => {
  for (const f of await readdir(keychain)) await rm(join(keychain, f));
});

async function configFile(doc: object): Promise<string> {
  const path = join(await mkdtemp(join(dir, "cfg-")), "config.json");
  await writeFile(path, JSON.stringify(doc));
  return path;
}

describe("credential helpers", () => {
  test("credsStore: login stores the secret in the helper, not the file; read and logout go through it", async () => {
    const path = await configFile({ credsStore: "testkeychain", auths: {} });
    expect(await saveCredentials("127.0.0.1:5000", { username: "alice", password: "pw:1" }, path)).toBe("docker-credential-testkeychain");
    const doc = JSON.parse(await readFile(path, "utf8"));
    expect(doc.auths).toEqual({ "127.0.0.1:5000": {} });
    expect(doc.credsStore).toBe("testkeychain");
    expect(await readdir(keychain)).toHaveLength(1);
    expect(await readCredentials("127.0.0.1:5000", path)).toEqual({ username: "alice", password: "pw:1" });

    expect(await removeCredentials("127.0.0.1:5000", path)).toBe(true);
    expect(await readdir(keychain)).toEqual([]);
    expect(await readCredentials("127.0.0.1:5000", path)).toBeUndefined();
    expect(await removeCredentials("127.0.0.1:5000", path)).toBe(false);
  });

  test("credHelpers names the helper of one registry; other registries keep using the file", async () => {
    const inFile = Buffer.from("bob:filepw").toString("base64");
    const path = await configFile({ credHelpers: { "reg.example:5000": "testkeychain" }, auths: { "other.example": { auth: inFile }, "reg.example:5000": { auth: inFile } } });
    await saveCredentials("reg.example:5000", { username: "carol", password: "helperpw" }, path);
    expect(await readCredentials("reg.example:5000", path)).toEqual({ username: "carol", password: "helperpw" });
    expect(await readCredentials("other.example", path)).toEqual({ username: "bob", password: "filepw" });
    // The old inline secret of the helper's registry is dropped from the file.
    expect(JSON.parse(await readFile(path, "utf8")).auths["reg.example:5000"]).toEqual({});
  });

  test("a helper that holds nothing falls back to credentials in the file", async () => {
    const path = await configFile({ credsStore: "testkeychain", auths: { "reg.example": { auth: Buffer.from("dan:pw").toString("base64") } } });
    expect(await readCredentials("reg.example", path)).toEqual({ username: "dan", password: "pw" });
  });

  test("a missing, failing, garbled or token-only helper gives an error that names it", async () => {
    const missing = await configFile({ credsStore: "nosuchhelper" });
    await expect(readCredentials("reg.example", missing)).rejects.toThrow(/docker-credential-nosuchhelper is not on PATH/);
    const broken = await configFile({ credsStore: "broken" });
    const error = await readCredentials("reg.example", broken).catch((e) => e);
    expect(error).toBeInstanceOf(CredentialHelperError);
    expect(error.message).toContain("the keyring is locked");
    await expect(readCredentials("reg.example", await configFile({ credsStore: "garbled" }))).rejects.toThrow(/docker-credential-garbled get reg.example: the answer is not JSON/);
    await expect(readCredentials("reg.example", await configFile({ credsStore: "oauth" }))).rejects.toThrow(/identity token/);
    await expect(readCredentials("reg.example", await configFile({ credsStore: "../../bin/sh" }))).rejects.toThrow(/not a valid credential helper name/);
  });
});
