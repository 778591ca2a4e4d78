/**
 * A private CA for HTTPS, as `pull`/`push` (`--ca-cert`) and an edge (`--upstream-ca`) take it,
 * else from $TDFS_CA_CERT: the PEM file read and checked, and fetch's `tls.ca` list that trusts it
 * beside the defaults. fetch's `tls.ca` replaces Bun's roots (which already honour
 * $SSL_CERT_FILE), so those are passed along with it: a private CA does not cost public registries.
 */
import { readFileSync } from "node:fs";

/** A CA file that cannot be used; the message names the file and where it was named. */
export class CaFileError extends Error {
  override name = "CaFileError";
}

/** The CA file named by `flag` (called `flagName` in messages), else by $TDFS_CA_CERT; undefined when neither is set. */
export function chosenCaFile(flag: string | undefined, flagName: string): { file: string; from: string } | undefined {
  if (flag) return { file: flag, from: flagName };
  const env = process.env.TDFS_CA_CERT;
  return env ? { file: env, from: "TDFS_CA_CERT" } : undefined;
}

/** Reads a CA file (a few KB, read once): its PEM text, or CaFileError. */
export function readCaFile(chosen: { file: string; from: string }): string {
  let pem: string;
  try {
    pem = readFileSync(chosen.file, "utf8");
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : (code ?? (cause as Error).message);
    throw new CaFileError(`cannot read the CA certificate ${chosen.file} (from ${chosen.from}): ${why}`, { cause });
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new CaFileError(`${chosen.file} (from ${chosen.from}) holds no PEM certificate: expected a "-----BEGIN CERTIFICATE-----" block`);
  }
  return pem;
}

/** fetch's `tls.ca` trusting `pem` and everything trusted by default (Bun's roots and $SSL_CERT_FILE's). */
export function caBundleWith(pem: string): string[] {
  const { rootCertificates } = require("node:tls") as typeof import("node:tls");
  const sslCertFile = process.env.SSL_CERT_FILE;
  let system = "";
  try {
    system = sslCertFile ? readFileSync(sslCertFile, "utf8") : "";
  } catch {
    // an unreadable SSL_CERT_FILE is Bun's to report; the private CA still applies
  }
  return [...rootCertificates, ...(system ? [system] : []), pem];
}
