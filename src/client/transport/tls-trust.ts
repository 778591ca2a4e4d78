/**
 * The certificates HTTPS requests to registries trust. By default Bun's own roots, which
 * already honour $SSL_CERT_FILE. A CA file from `--ca-cert` or $TDFS_CA_CERT is added to them:
 * fetch's `tls.ca` replaces the default roots, so they (and SSL_CERT_FILE's) are passed along
 * with it, and a private CA does not cost the public registries.
 */
import { readFile } from "node:fs/promises";
import { TlsCertificateError } from "../errors.ts";

/** What fetch is given for an HTTPS request. */
export interface TlsTrust {
  /** The CA file added to the defaults, if any (named in error messages). */
  caFile?: string;
  /** fetch's `tls` option; undefined keeps Bun's defaults. */
  tls?: { ca: string[] };
}

/** The CA file named by `--ca-cert` (`flag`) or else $TDFS_CA_CERT, if either is set. */
function chosenCaFile(flag: string | undefined): { file: string; from: string } | undefined {
  if (flag) return { file: flag, from: "--ca-cert" };
  const env = process.env.TDFS_CA_CERT;
  return env ? { file: env, from: "TDFS_CA_CERT" } : undefined;
}

/** Reads the chosen CA file (once per client, at its first HTTPS request); plain HTTP never calls this. */
export async function loadTlsTrust(flag: string | undefined): Promise<TlsTrust> {
  const chosen = chosenCaFile(flag);
  if (!chosen) return {};
  const pem = await readFile(chosen.file, "utf8").catch((cause: NodeJS.ErrnoException) => {
    const why = cause.code === "ENOENT" ? "no such file" : (cause.code ?? cause.message);
    throw new TlsCertificateError(`cannot read the CA certificate ${chosen.file} (from ${chosen.from}): ${why}`, { cause });
  });
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new TlsCertificateError(`${chosen.file} (from ${chosen.from}) holds no PEM certificate: expected a "-----BEGIN CERTIFICATE-----" block`);
  }
  const { rootCertificates } = await import("node:tls");
  const sslCertFile = process.env.SSL_CERT_FILE;
  const system = sslCertFile ? await readFile(sslCertFile, "utf8").catch(() => "") : "";
  return { caFile: chosen.file, tls: { ca: [...rootCertificates, ...(system ? [system] : []), pem] } };
}
