/**
 * Finds go-containerregistry's `crane` for the benches: on PATH, as a cached build under
 * bench/.cache/crane, or built offline from Debian's bookworm-backports sources (there is
 * no binary package). Never throws: a missing crane is a reason string, not a failed bench.
 */
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { run, SYSTEM_PATH } from "../../test/e2e/support/index.ts";

const CACHE_DIR = join(import.meta.dir, "..", ".cache");
const CACHED_BIN = join(CACHE_DIR, "crane");
const GOPATH = "/usr/share/gocode";
const CRANE_PKG = "github.com/google/go-containerregistry/cmd/crane";
const BACKPORTS_FILE = "/etc/apt/sources.list.d/bookworm-backports.sources";

/** Where crane came from, or why it cannot be had. */
export type CraneLookup =
  | { ok: true; path: string; source: "path" | "cache" | "built"; version: string }
  | { ok: false; reason: string };

/** Options for {@link findCrane}. */
export interface FindCraneOptions {
  /** Try apt-get + go build when crane is not found (default true). */
  build?: boolean;
  /** Upper bound for the whole install-and-build step (default 10 minutes). */
  timeoutMs?: number;
  /** Progress lines (default console.log). */
  log?: (line: string) => void;
}

/** Locates crane (PATH, then bench/.cache/crane), building it when allowed; resolves to a reason when it cannot. */
export async function findCrane(opts: FindCraneOptions = {}): Promise<CraneLookup> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const onPath = Bun.which("crane", { PATH: `${process.env.PATH ?? ""}:${SYSTEM_PATH}` });
  if (onPath) {
    const version = await craneVersion(onPath);
    if (version !== undefined) return { ok: true, path: onPath, source: "path", version };
  }
  if (existsSync(CACHED_BIN)) {
    const version = await craneVersion(CACHED_BIN);
    if (version !== undefined) return { ok: true, path: CACHED_BIN, source: "cache", version };
  }
  if (opts.build === false) return { ok: false, reason: "not on PATH and no cached build in bench/.cache/crane" };
  const deadline = Date.now() + (opts.timeoutMs ?? 600_000);
  try {
    await buildCrane(deadline, log);
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message.split("\n").slice(0, 3).join(" | ") : String(error) };
  }
  const version = await craneVersion(CACHED_BIN);
  if (version === undefined) return { ok: false, reason: `built ${CACHED_BIN} but \`crane version\` does not run` };
  return { ok: true, path: CACHED_BIN, source: "built", version };
}

/** `crane version` output, or undefined when the binary does not run. */
async function craneVersion(bin: string): Promise<string | undefined> {
  try {
    const r = await run(bin, ["version"], { timeoutMs: 10_000 });
    return r.code === 0 ? r.stdout.trim() || "unknown" : undefined;
  } catch {
    return undefined;
  }
}

function remaining(deadline: number): number {
  const ms = deadline - Date.now();
  if (ms <= 0) throw new Error("crane build ran out of time");
  return ms;
}

/** Runs a build step and turns a non-zero exit into an error carrying its last stderr line. */
async function step(what: string, cmd: string, args: string[], deadline: number, env?: Record<string, string>): Promise<void> {
  const r = await run(cmd, args, { timeoutMs: remaining(deadline), env: { DEBIAN_FRONTEND: "noninteractive", ...env } });
  if (r.code !== 0) {
    const last = (r.stderr.trim() || r.stdout.trim()).split("\n").slice(-2).join(" | ");
    throw new Error(`${what} failed (exit ${r.code}): ${last}`);
  }
}

/** Installs Go and the go-containerregistry sources from bookworm-backports (if missing), then builds crane into the cache. */
async function buildCrane(deadline: number, log: (line: string) => void): Promise<void> {
  const go = Bun.which("go", { PATH: SYSTEM_PATH }) ?? (existsSync("/usr/lib/go/bin/go") ? "/usr/lib/go/bin/go" : undefined);
  const haveSources = existsSync(join(GOPATH, "src", CRANE_PKG));
  let goBin = go;
  if (goBin === undefined || !haveSources) {
    const apt = Bun.which("apt-get", { PATH: SYSTEM_PATH });
    if (!apt) throw new Error("no go toolchain and no apt-get to install one");
    if (process.getuid?.() !== 0) throw new Error("go or go-containerregistry sources missing and not root (apt-get needs root)");
    await ensureBackportsSource();
    log("crane: installing golang-go and go-containerregistry sources from bookworm-backports (apt-get)");
    await step("apt-get update", apt, ["update", "-q"], deadline);
    await step(
      "apt-get install",
      apt,
      ["install", "-y", "-q", "--no-install-recommends", "-t", "bookworm-backports", "golang-go", "golang-github-google-go-containerregistry-dev"],
      deadline,
    );
    goBin = Bun.which("go", { PATH: SYSTEM_PATH }) ?? undefined;
    if (goBin === undefined) throw new Error("apt-get installed golang-go but no `go` on PATH");
    if (!existsSync(join(GOPATH, "src", CRANE_PKG))) throw new Error(`apt-get finished but ${join(GOPATH, "src", CRANE_PKG)} is missing`);
  }
  await mkdir(CACHE_DIR, { recursive: true });
  log("crane: go build (offline, GOPATH=/usr/share/gocode)");
  // GOPATH mode against Debian's packaged sources: no module download, so it works offline.
  await step("go build crane", goBin, ["build", "-o", CACHED_BIN, CRANE_PKG], deadline, {
    GO111MODULE: "off",
    GOPATH,
    GOCACHE: join(CACHE_DIR, "go-build"),
    HOME: process.env.HOME ?? "/root",
  });
}

/** Adds a bookworm-backports apt source unless one is configured already (same mirror and key as the main source). */
async function ensureBackportsSource(): Promise<void> {
  const dir = "/etc/apt/sources.list.d";
  const files = [join("/etc/apt", "sources.list"), ...(existsSync(dir) ? (await readdir(dir)).map((f) => join(dir, f)) : [])];
  for (const f of files) {
    if (!existsSync(f) || f.includes("disabled")) continue;
    if ((await readFile(f, "utf8")).includes("bookworm-backports")) return;
  }
  await writeFile(
    BACKPORTS_FILE,
    [
      "Types: deb",
      "URIs: http://deb.debian.org/debian",
      "Suites: bookworm-backports",
      "Components: main",
      "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg",
      "",
    ].join("\n"),
  );
}
