/** The pull-through flags of `2dfs serve` (`--upstream`, `--upstream-user`, `--upstream-ca`, `--tag-ttl`, `--cache-max`) as options. */
import { CaFileError, chosenCaFile, readCaFile } from "../util/ca-bundle.ts";
import { UpstreamOptionsError, parseSize, parseTtlSeconds, parseUpstreamSpec } from "../registry/upstream/options.ts";
import type { UpstreamOptions } from "../registry/upstream/upstream.ts";
import { UsageError } from "./errors.ts";

/** The pull-through flags. */
export interface UpstreamFlags {
  upstream?: string | string[];
  upstreamUser?: string;
  /** A PEM file of a private CA for HTTPS upstreams; default $TDFS_CA_CERT. */
  upstreamCa?: string;
  tagTtl?: string | number;
  cacheMax?: string | number;
}

/** The cache options, or undefined without `--upstream`; a malformed flag is a usage error. */
export function toUpstreamOptions(flags: UpstreamFlags): UpstreamOptions | undefined {
  const specs = flags.upstream === undefined ? [] : [flags.upstream].flat().map(String);
  try {
    if (specs.length === 0) {
      if (flags.upstreamUser !== undefined || flags.cacheMax !== undefined || flags.upstreamCa !== undefined) {
        throw new UpstreamOptionsError("--upstream-user, --upstream-ca and --cache-max need --upstream URL");
      }
      return undefined;
    }
    return {
      targets: specs.map(parseUpstreamSpec),
      user: flags.upstreamUser,
      tagTtlSeconds: parseTtlSeconds(flags.tagTtl ?? 60),
      cacheMaxBytes: flags.cacheMax === undefined ? undefined : parseSize(String(flags.cacheMax)),
      caPem: readCa(flags.upstreamCa),
    };
  } catch (e) {
    if (e instanceof UpstreamOptionsError) throw new UsageError(e.message, "2dfs serve --upstream [PREFIX=]URL [--upstream-user USER] [--tag-ttl 60] [--cache-max 20G]");
    throw e;
  }
}

/** The CA file's PEM text (`--upstream-ca`, else $TDFS_CA_CERT), read once at start; a bad file stops `serve` with one line. */
function readCa(flag: string | undefined): string | undefined {
  const chosen = chosenCaFile(flag, "--upstream-ca");
  if (!chosen) return undefined;
  try {
    return readCaFile(chosen);
  } catch (e) {
    if (e instanceof CaFileError) throw new UpstreamOptionsError(e.message);
    throw e;
  }
}
