/**
 * `bun run release`: one self-contained 2dfs binary per target in dist/release/ (2dfs-<os>-<arch>[-musl])
 * and a SHA256SUMS that `sha256sum -c` reads. Bun cross-compiles every target from this machine; it
 * fetches each target's runtime (the @oven/bun-<os>-<arch>[-musl] package of this Bun's version)
 * from the npm registry on first use and keeps it in its install cache.
 *
 *   bun scripts/release.ts [--out DIR] [--targets linux-x64,linux-arm64,...]
 *
 * Each binary knows its commit and target (`2dfs --version`), baked in with --define. Files are
 * written under a temporary name and renamed, so a half-written binary is never visible.
 */
import { createReadStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { join, resolve } from "node:path";

/** The release targets: our name -> Bun's --target. */
export const TARGETS = {
  "linux-x64": "bun-linux-x64",
  "linux-arm64": "bun-linux-arm64",
  "linux-x64-musl": "bun-linux-x64-musl",
  "linux-arm64-musl": "bun-linux-arm64-musl",
  "darwin-arm64": "bun-darwin-arm64",
} as const;
type Target = keyof typeof TARGETS;

const ROOT = resolve(import.meta.dir, "..");
const ENTRY_POINTS = ["./src/cli.ts", "./wasm/hash-worker.ts", "./wasm/receive-worker.ts"];

function fail(message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv: string[]): { out: string; targets: Target[] } {
  let out = join(ROOT, "dist", "release");
  let targets = Object.keys(TARGETS) as Target[];
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    if (argv[i] === "--out" && value !== undefined) {
      out = resolve(value);
      i++;
    } else if (argv[i] === "--targets" && value !== undefined) {
      targets = value.split(",").map((t) => {
        if (!Object.hasOwn(TARGETS, t)) fail(`unknown target "${t}" (known: ${Object.keys(TARGETS).join(", ")})`);
        return t as Target;
      });
      i++;
    } else fail(`unexpected argument "${argv[i]}" (usage: bun scripts/release.ts [--out DIR] [--targets a,b])`);
  }
  return { out, targets };
}

/** The short commit, with -dirty when tracked files differ from it; "unknown" outside a git checkout. */
function gitCommit(): string {
  const head = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: ROOT, stderr: "ignore" });
  if (head.exitCode !== 0) return "unknown";
  const clean = Bun.spawnSync(["git", "diff", "--quiet", "HEAD", "--"], { cwd: ROOT, stderr: "ignore" });
  return head.stdout.toString().trim() + (clean.exitCode === 0 ? "" : "-dirty");
}

async function sha256OfFile(path: string): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hasher.update(chunk as Buffer);
  return hasher.digest("hex");
}

async function main(): Promise<void> {
  const { out, targets } = parseArgs(process.argv.slice(2));
  const commit = gitCommit();
  const staging = join(out, `.staging-${process.pid}`);
  await mkdir(staging, { recursive: true });
  try {
    const sums: string[] = [];
    for (const target of targets) {
      const name = `2dfs-${target}`;
      const started = performance.now();
      const build = Bun.spawnSync(
        [
          process.execPath, "build", "--compile", "--minify", "--bytecode", "--format", "esm", "--splitting",
          `--target=${TARGETS[target]}`,
          "--define", `TDFS_COMMIT=${JSON.stringify(commit)}`,
          "--define", `TDFS_TARGET=${JSON.stringify(target)}`,
          ...ENTRY_POINTS, "--outfile", join(staging, name),
        ],
        { cwd: ROOT, stdout: "pipe", stderr: "pipe" },
      );
      if (build.exitCode !== 0) {
        const why = `${build.stderr.toString()}${build.stdout.toString()}`.trim().split("\n").slice(-3).join(" | ");
        fail(`bun build for ${target} failed: ${why} (Bun fetches the target's runtime, @oven/${TARGETS[target].replace("arm64", "aarch64")}@${Bun.version}, from the npm registry: is it reachable?)`);
      }
      const sum = await sha256OfFile(join(staging, name));
      sums.push(`${sum}  ${name}`);
      process.stderr.write(`release: ${name} ${(performance.now() - started).toFixed(0)} ms sha256:${sum.slice(0, 12)}\n`);
    }
    for (const target of targets) await rename(join(staging, `2dfs-${target}`), join(out, `2dfs-${target}`));
    sums.sort((a, b) => a.slice(66).localeCompare(b.slice(66)));
    await Bun.write(join(staging, "SHA256SUMS"), `${sums.join("\n")}\n`);
    await rename(join(staging, "SHA256SUMS"), join(out, "SHA256SUMS"));
    process.stderr.write(`release: ${targets.length} binaries and SHA256SUMS in ${out} (commit ${commit})\n`);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

await main();
