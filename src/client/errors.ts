/** Typed errors of the registry client, each with a one-line reason a CLI can print. */
import { type ErrorCode, isErrorCode } from "../oci/errors.ts";

/** A registry answered with an error status (the spec's code when it sent one). */
export class RegistryResponseError extends Error {
  override name = "RegistryResponseError";
  constructor(
    message: string,
    readonly status: number,
    readonly code?: ErrorCode,
  ) {
    super(message);
  }
}

/** Credentials are missing or were refused. */
export class AuthenticationError extends Error {
  override name = "AuthenticationError";
}

/** The registry could not be reached even after the retries. */
export class RegistryUnreachableError extends Error {
  override name = "RegistryUnreachableError";
}

/** A registry's TLS certificate is not trusted or not for its name, or a CA file given cannot be used. */
export class TlsCertificateError extends Error {
  override name = "TlsCertificateError";
}

/** Received bytes do not hash to the digest (or size) they were asked for under. */
export class DigestMismatchError extends Error {
  override name = "DigestMismatchError";
}

/** A layer entry that would land outside the target folder, or a kind of file that is refused. */
export class UnsafeEntryError extends Error {
  override name = "UnsafeEntryError";
}

/** A layer that cannot be decoded (broken gzip or zstd, a truncated or corrupt tar) or expands beyond the limit. */
export class CorruptLayerError extends Error {
  override name = "CorruptLayerError";
}

/** An image or platform that is not there. */
export class ImageNotFoundError extends Error {
  override name = "ImageNotFoundError";
}

/** Builds a RegistryResponseError from a response, reading the spec's error envelope when present. */
export async function toResponseError(response: Response, what: string): Promise<RegistryResponseError> {
  let code: ErrorCode | undefined;
  let detail = "";
  const text = await response.text().catch(() => "");
  try {
    const doc = JSON.parse(text) as { errors?: { code?: unknown; message?: unknown }[] };
    const first = doc.errors?.[0];
    if (first && isErrorCode(first.code)) code = first.code;
    if (first && typeof first.message === "string") detail = first.message;
  } catch {
    detail = text.slice(0, 200).trim();
  }
  const reason = [code, detail].filter(Boolean).join(": ") || response.statusText;
  return new RegistryResponseError(`${what}: HTTP ${response.status}${reason ? ` (${reason})` : ""}`, response.status, code);
}
