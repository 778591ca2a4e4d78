/** The pull-through flags of `2dfs serve` (`--upstream`, `--upstream-user`, `--upstream-ca`, `--tag-ttl`, `--cache-max`) as options. */
import { readFileSync } from "node:fs";
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
  const file = flag ?? process.env.TDFS_CA_CERT;
  if (!file) return undefined;
  const from = flag ? "--upstream-ca" : "TDFS_CA_CERT";
  let pem: string;
  try {
    pem = readFileSync(file, "utf8");
  } catch (e) {
    throw new UpstreamOptionsError(`cannot read the CA certificate ${file} (from ${from}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new UpstreamOptionsError(`${file} (from ${from}) holds no PEM certificate`);
  return pem;
}
