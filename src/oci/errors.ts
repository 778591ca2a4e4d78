/** The distribution spec's error codes as one table: code -> (HTTP status, message). */
export const ErrorCode = {
  BLOB_UNKNOWN: { status: 404, message: "blob unknown to registry" },
  BLOB_UPLOAD_INVALID: { status: 400, message: "blob upload invalid" },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: "blob upload unknown to registry" },
  DIGEST_INVALID: { status: 400, message: "provided digest did not match uploaded content" },
  MANIFEST_BLOB_UNKNOWN: { status: 404, message: "manifest references a manifest or blob unknown to registry" },
  MANIFEST_INVALID: { status: 400, message: "manifest invalid" },
  MANIFEST_UNKNOWN: { status: 404, message: "manifest unknown to registry" },
  NAME_INVALID: { status: 400, message: "invalid repository name" },
  NAME_UNKNOWN: { status: 404, message: "repository name not known to registry" },
  SIZE_INVALID: { status: 400, message: "provided length did not match content length" },
  UNAUTHORIZED: { status: 401, message: "authentication required" },
  DENIED: { status: 403, message: "requested access to the resource is denied" },
  UNSUPPORTED: { status: 405, message: "the operation is unsupported" },
  TOOMANYREQUESTS: { status: 429, message: "too many requests" },
  RANGE_INVALID: { status: 416, message: "invalid content range" },
} as const;
export type ErrorCode = keyof typeof ErrorCode;

/** An error a registry reports, or a client received, in the spec's terms. */
export class OciError extends Error {
  override name = "OciError";
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    readonly detail?: unknown,
    options?: { status?: number; cause?: unknown },
  ) {
    super(typeof detail === "string" ? `${ErrorCode[code].message}: ${detail}` : ErrorCode[code].message, {
      cause: options?.cause,
    });
    this.status = options?.status ?? ErrorCode[code].status;
  }

  /** The spec's JSON envelope: `{"errors":[{code,message,detail}]}`. */
  toJSON(): { errors: { code: ErrorCode; message: string; detail?: unknown }[] } {
    const entry: { code: ErrorCode; message: string; detail?: unknown } = {
      code: this.code,
      message: ErrorCode[this.code].message,
    };
    if (this.detail !== undefined) entry.detail = this.detail;
    return { errors: [entry] };
  }
}

/** True when a string is one of the spec's error codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ErrorCode, code);
}
