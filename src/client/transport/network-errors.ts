/**
 * The runtime's network errors, read by their `code` and turned into 2dfs's own one-line
 * reasons. Bun's messages end in hints meant for a developer ("pass `verbose: true` in the
 * second argument to fetch()") that mean nothing to someone running 2dfs, so none of its text
 * is shown except, for a code we do not know, its first sentence.
 */

/** The `code` of an error thrown by fetch (ECONNRESET, DEPTH_ZERO_SELF_SIGNED_CERT, ...). */
export function networkErrorCode(cause: unknown): string | undefined {
  const code = (cause as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "no such host",
  ECONNRESET: "the connection was closed before an answer came",
  EPIPE: "the connection was closed while the request was sent",
  ETIMEDOUT: "timed out",
  ConnectionRefused: "connection refused",
  EPROTO: "the TLS handshake failed",
};

/** A short reason for a failed exchange, in 2dfs's words. */
export function describeNetworkError(cause: unknown): string {
  const code = networkErrorCode(cause);
  if (code && REASONS[code]) return REASONS[code];
  if (isCertificateError(cause)) return `TLS certificate rejected: ${certificateProblem(cause)}`;
  const message = cause instanceof Error ? cause.message : String(cause);
  // First sentence only, without the code Bun repeats in front of it.
  const first = message.replace(/^[A-Z_]+: /, "").split(/\.\s|\. *$/)[0]!.trim();
  const hintless = /verbose|fetch\(\)/i.test(first) ? "" : first;
  return [code, hintless].filter(Boolean).join(": ") || "network error";
}

/** True when the peer's certificate was refused: untrusted, expired, or for another name. */
export function isCertificateError(cause: unknown): boolean {
  const code = networkErrorCode(cause);
  return code !== undefined && /CERT|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|HOSTNAME_MISMATCH|INVALID_CA/.test(code);
}

/** True when the certificate is fine but names other hosts. */
export function isCertificateNameError(cause: unknown): boolean {
  const code = networkErrorCode(cause);
  return code === "ERR_TLS_CERT_ALTNAME_INVALID" || code === "HOSTNAME_MISMATCH";
}

const PROBLEMS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: "it is self-signed",
  SELF_SIGNED_CERT_IN_CHAIN: "its chain ends in a self-signed CA that is not trusted",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "it is signed by a CA that is not trusted",
  UNABLE_TO_GET_ISSUER_CERT: "it is signed by a CA that is not trusted",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "it is signed by a CA that is not trusted",
  CERT_HAS_EXPIRED: "it has expired",
  CERT_NOT_YET_VALID: "it is not valid yet",
  ERR_TLS_CERT_ALTNAME_INVALID: "it is issued for other host names",
  HOSTNAME_MISMATCH: "it is issued for other host names",
};

/** What is wrong with a refused certificate, as a short clause. */
export function certificateProblem(cause: unknown): string {
  const code = networkErrorCode(cause) ?? "unknown";
  return PROBLEMS[code] ?? `refused (${code})`;
}

/** True for what a plain-HTTP request to Bun's (or OpenSSL's) TLS port gets: the connection is reset. */
export function looksLikeTlsPort(cause: unknown): boolean {
  return networkErrorCode(cause) === "ECONNRESET";
}
