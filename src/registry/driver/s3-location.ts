/** `--storage s3://BUCKET/PREFIX?endpoint=URL&region=R` and the credentials from the environment. */

/** Where an S3 driver stores, and with which keys. */
export interface S3Location {
  bucket: string;
  /** Key prefix without slashes at either end ("" for the bucket's root). */
  prefix: string;
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** Thrown for a storage URL or credentials that cannot work. */
export class S3LocationError extends Error {
  override name = "S3LocationError";
}

/**
 * Parses an `s3://` storage URL. The endpoint comes from `?endpoint=`, else S3_ENDPOINT or
 * AWS_ENDPOINT_URL; the region from `?region=`, else S3_REGION or AWS_REGION, else us-east-1;
 * the keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, else S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY.
 */
export function parseS3Url(text: string, env: Record<string, string | undefined> = process.env): S3Location {
  const m = /^s3:\/\/([^/?#]+)(\/[^?#]*)?(?:\?([^#]*))?$/.exec(text.trim());
  if (!m) throw new S3LocationError(`invalid storage URL "${text}": expected s3://BUCKET[/PREFIX]?endpoint=URL&region=R`);
  const bucket = m[1]!;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new S3LocationError(`invalid bucket name "${bucket}" in "${text}"`);
  const prefix = (m[2] ?? "").replace(/^\/+|\/+$/g, "");
  if (prefix.split("/").some((p) => p === "." || p === ".." || (p === "" && prefix !== ""))) {
    throw new S3LocationError(`invalid key prefix "${prefix}" in "${text}"`);
  }
  const query = new URLSearchParams(m[3] ?? "");
  for (const key of query.keys()) {
    if (key !== "endpoint" && key !== "region") throw new S3LocationError(`unknown parameter "${key}" in "${text}" (endpoint and region are known)`);
  }
  const endpoint = query.get("endpoint") || env.S3_ENDPOINT || env.AWS_ENDPOINT_URL;
  if (!endpoint) throw new S3LocationError(`no S3 endpoint: add ?endpoint=http://HOST:PORT to "${text}" or set S3_ENDPOINT`);
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new S3LocationError(`invalid S3 endpoint "${endpoint}": expected http(s)://HOST:PORT`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new S3LocationError(`invalid S3 endpoint "${endpoint}": expected http(s)://HOST:PORT`);
  const accessKeyId = env.AWS_ACCESS_KEY_ID || env.S3_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY || env.S3_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new S3LocationError("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY)");
  }
  return {
    bucket,
    prefix,
    endpoint: url.origin,
    region: query.get("region") || env.S3_REGION || env.AWS_REGION || "us-east-1",
    accessKeyId,
    secretAccessKey,
  };
}
