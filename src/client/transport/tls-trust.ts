/**
 * The certificates HTTPS requests to registries trust: Bun's own roots (which honour
 * $SSL_CERT_FILE), plus a CA file from `--ca-cert` or $TDFS_CA_CERT (util/ca-bundle.ts).
 */
import { CaFileError, caBundleWith, chosenCaFile, readCaFile } from "../../util/ca-bundle.ts";
import { TlsCertificateError } from "../errors.ts";

/** What fetch is given for an HTTPS request. */
export interface TlsTrust {
  /** The CA file added to the defaults, if any (named in error messages). */
  caFile?: string;
  /** fetch's `tls` option; undefined keeps Bun's defaults. */
  tls?: { ca: string[] };
}

/** Reads the chosen CA file (once per client, at its first HTTPS request); plain HTTP never calls this. */
export async function loadTlsTrust(flag: string | undefined): Promise<TlsTrust> {
  const chosen = chosenCaFile(flag, "--ca-cert");
  if (!chosen) return {};
  try {
    return { caFile: chosen.file, tls: { ca: caBundleWith(readCaFile(chosen)) } };
  } catch (error) {
    if (error instanceof CaFileError) throw new TlsCertificateError(error.message, { cause: error.cause });
    throw error;
  }
}
