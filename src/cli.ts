#!/usr/bin/env bun
/** The 2dfs command line: cac wiring only. Each command lives in src/cmd/ and is loaded on use, so `2dfs build` never pays for the registry server's imports. */
import cac, { type CAC } from "cac";
import pkg from "../package.json" with { type: "json" };
import { UsageError } from "./cmd/errors.ts";
import { versionText } from "./util/build-info.ts";
import { writeTo } from "./util/terminal.ts";

const cli = cac("2dfs");
const storeHelp = "Local image store (default $TDFS_STORE or ~/.local/share/2dfs/store)";
const caCertHelp = "PEM file of a CA (or self-signed certificate) to trust for HTTPS, besides the default CAs (default $TDFS_CA_CERT)";
const quietFlag = "-q, --quiet";

// Each command's definition, keyed by its name. Defining all of them costs cac ~4 ms at start-up,
// a tenth of a small pull: a command line that names a command defines only that one (its
// --help still works); anything else (2dfs --help, a typo, a leading global option) defines all.
const COMMANDS: Record<string, (app: CAC) => void> = {
  build: (app) =>
    app
      .command("build", "Build an OCI+2DFS image from a base image and a 2dfs.json")
      .option("-t, --tag <name:tag>", "Name of the image in the local store")
      .option("-f, --file <path>", "The field descriptor", { default: "2dfs.json" })
      .option("--base <ref>", "Base image: scratch, a local name, oci:DIR[:TAG] or a registry reference", { default: "scratch" })
      .option("--compression <mode>", "auto | none | gzip | zstd (auto leaves incompressible data such as weights uncompressed)", { default: "auto" })
      .option("--min-saving <percent>", "auto: gzip an allotment only when a sample of it shrinks by this much (default 55; 20 also takes weights that shrink by a quarter to a half)")
      .option("--format <format>", "native (every allotment a layer) | reference (the reference implementation's field blob; its allotments are hidden from manifests, so skopeo copy and other copy tools lose them: use 2dfs push)", { default: "native" })
      .option("--platform <os/arch>", "Keep only these base platforms (repeatable or comma separated)")
      .option("--jobs <n>", "Allotments built in parallel (default: number of cores)")
      .option("--no-cache", "Rebuild every allotment")
      .option("--allow-outside-context", "Let sources (and links they follow) lie outside the descriptor's folder")
      .option("--store <dir>", storeHelp)
      .option(quietFlag, "Print nothing but errors")
      .option("--json", "Print one JSON event per line on stdout")
      .example("2dfs build -t mymodel:v1 --base busybox:latest -f ./2dfs.json")
      .action(async (flags) => (await import("./cmd/build.ts")).buildCommand(flags)),
  serve: (app) =>
    app
      .command("serve", "Run an OCI registry that also serves partitions (tag--x1.y1.x2.y2)")
      .option("--addr <host:port>", "Listen address", { default: "127.0.0.1:5000" })
      .option("--data <dir>", "Storage folder (default ~/.local/share/2dfs/registry)")
      .option("--storage <url>", "Object storage instead: s3://BUCKET/PREFIX?endpoint=URL&region=R (keys from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY); replicas may share it")
      .option("--read-only", "Refuse every write")
      .option("--redirect", "With --storage s3://...: answer blob GETs with a redirect to a presigned URL, so bytes go from the store to the client")
      .option("--htpasswd <file>", "Require basic auth; bcrypt htpasswd file")
      .option("--tls-cert <file>", "TLS certificate (PEM)")
      .option("--tls-key <file>", "TLS private key (PEM)")
      .option("--no-ui", "Do not serve the web page at / (the field viewer and partition picker)")
      .option(quietFlag, "No access log (errors and the start-up lines still print)")
      .option("--upstream <url>", "Pull-through cache of this registry; PREFIX=URL for names under PREFIX (repeatable)")
      .option("--upstream-user <user>", "User for the upstream (password from $TDFS_UPSTREAM_PASSWORD; default: Docker's config.json)")
      .option("--upstream-ca <file>", "A private CA (PEM) to trust for an HTTPS upstream (default: $TDFS_CA_CERT)")
      .option("--tag-ttl <seconds>", "Revalidate cached upstream tags after this long", { default: 60 })
      .option("--cache-max <size>", "Evict least-recently-used upstream blobs past this size (e.g. 20G)")
      .option("--tier <name>", "The tier label of /metrics (default edge with --upstream, else origin)")
      .action(async (flags) => (await import("./cmd/serve.ts")).serveCommand(flags)),
  gc: (app) =>
    app
      .command("gc", "Delete blobs of the registry storage that nothing references")
      .option("--data <dir>", "Storage folder of 2dfs serve")
      .option("--storage <url>", "The s3:// storage of 2dfs serve --storage")
      .option("--dry-run", "Only list what would be deleted")
      .option("--upload-max-age <hours>", "Remove upload sessions idle for longer than this", { default: 24 })
      .action(async (flags) => (await import("./cmd/gc.ts")).gcCommand(flags)),
  pull: (app) =>
    app
      .command("pull <ref>", "Pull an image or a partition (img:tag+1.0.2.1 or img:tag--1.0.2.1)")
      .option("-o, --output <dir>", "Target folder")
      .option("--format <format>", "files (allotment files) | rootfs (all layers applied) | oci (an image layout)", { default: "files" })
      .option("--platform <os/arch>", "Platform to pull (default: this machine's)")
      .option("--ca-cert <file>", caCertHelp)
      .option("--jobs <n>", "Parallel downloads", { default: 4 })
      .option("--clean", "Replace the content of the output folder (default: merge into it)")
      .option("--store <dir>", storeHelp)
      .option(quietFlag, "Print nothing but errors")
      .option("--json", "Print one JSON event per line on stdout")
      .action(async (ref, flags) => (await import("./cmd/pull.ts")).pullCommand(ref, flags)),
  push: (app) =>
    app
      .command("push <name> [dest]", "Push an image from the local store to a registry")
      .option("--jobs <n>", "Parallel uploads", { default: 4 })
      .option("--chunk-size <size>", "Send blobs larger than this in PATCH chunks of this size (e.g. 5M; default: one PUT up to 16 MiB, 32 MiB chunks above)")
      .option("--ca-cert <file>", caCertHelp)
      .option("--store <dir>", storeHelp)
      .option(quietFlag, "Print nothing but errors")
      .option("--json", "Print one JSON event per line on stdout")
      .action(async (name, dest, flags) => (await import("./cmd/push.ts")).pushCommand(name, dest, flags)),
  export: (app) =>
    app
      .command("export <ref>", "Write an image or a partition of the local store as a tar for docker load / podman load")
      .option("-o, --output <file>", "Output tar file")
      .option("--format <format>", "docker | oci", { default: "docker" })
      .option("--platform <os/arch>", "Platform of a multi-platform image (default: this machine's)")
      .option("--store <dir>", storeHelp)
      .action(async (ref, flags) => (await import("./cmd/export.ts")).exportCommand(ref, flags)),
  login: (app) =>
    app
      .command("login <registry>", "Save credentials for a registry as Docker does: in ~/.docker/config.json, or its credential helper (credsStore, credHelpers)")
      .option("-u, --username <user>", "User name")
      .option("-p, --password <password>", "Password (prefer --password-stdin)")
      .option("--password-stdin", "Read the password from standard input")
      .option("--ca-cert <file>", caCertHelp)
      .action(async (registry, flags) => (await import("./cmd/login.ts")).loginCommand(registry, flags)),
  logout: (app) =>
    app
      .command("logout <registry>", "Remove saved credentials of a registry")
      .action(async (registry) => (await import("./cmd/login.ts")).logoutCommand(registry)),
  image: (app) =>
    app
      .command("image <action> [...refs]", "Local images: ls | inspect NAME | rm NAME | prune")
      .option("--store <dir>", storeHelp)
      .option("--json", "Machine-readable output")
      .option("--dry-run", "prune: only report")
      .option("--grace <seconds>", "prune: keep blobs younger than this, which a running build may still need", { default: 3600 })
      .example("2dfs image inspect mymodel:v1")
      .action(async (action, refs, flags) => (await import("./cmd/image.ts")).imageCommand(action, refs, flags)),
};

const named = process.argv[2];
const chosen = named !== undefined && Object.hasOwn(COMMANDS, named) ? [COMMANDS[named]!] : Object.values(COMMANDS);
for (const define of chosen) define(cli);
// cac gives each `--no-x` flag the default true and prints "(default: true)" beside it, which
// reads as if the flag were on. Without it an absent flag reads as undefined; commands test `=== false`.
for (const option of cli.commands.flatMap((c) => c.options)) if (option.negated) option.config.default = undefined;

cli.option("--debug", "Print stack traces of errors, and which libc, blob transport and copy path ran");
cli.help();
cli.version(versionText(pkg.version));

async function main(): Promise<void> {
  const debug = process.argv.includes("--debug");
  try {
    cli.parse(process.argv, { run: false });
    if (!cli.matchedCommand) {
      if (cli.options.help || cli.options.version) return;
      if (cli.args.length > 0) throw new UsageError(`unknown command "${cli.args[0]}"`, "run 2dfs --help for the list");
      cli.outputHelp();
      process.exitCode = 2;
      return;
    }
    await cli.runMatchedCommand();
  } catch (error) {
    const usage = error instanceof UsageError || (error instanceof Error && error.name === "CACError");
    const err = error as Error & { hint?: string };
    writeTo(2, `error: ${err.message ?? String(error)}\n`);
    if (err.hint) writeTo(2, `hint: ${err.hint}\n`);
    else if (usage) writeTo(2, `hint: run 2dfs ${cli.matchedCommand?.name ?? ""} --help\n`);
    if (debug && err.stack) writeTo(2, `${err.stack}\n`);
    process.exitCode = usage ? 2 : 1;
  }
}

void main();
