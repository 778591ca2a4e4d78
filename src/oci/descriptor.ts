/** Content descriptors and platforms (OCI image spec, descriptor.md). */
import { type Digest, parseDigest } from "./digest.ts";
import { JsonShapeError, isObject, isStringMap } from "./json.ts";

/** A platform as an index entry states it. */
export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  "os.version"?: string;
  "os.features"?: string[];
  features?: string[];
}

/** A descriptor; unknown fields are kept as they came. */
export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
  data?: string;
  [extra: string]: unknown;
}

/** Validates an untrusted descriptor; `where` names it in the error (e.g. "layers[2]"). */
export function parseDescriptor(value: unknown, where: string): Descriptor {
  if (!isObject(value)) throw new JsonShapeError(`${where}: descriptor must be an object`);
  const { mediaType, digest, size, annotations, platform, urls } = value;
  if (typeof mediaType !== "string" || mediaType.length === 0) {
    throw new JsonShapeError(`${where}.mediaType: must be a non-empty string`);
  }
  if (typeof digest !== "string") throw new JsonShapeError(`${where}.digest: must be a string`);
  try {
    parseDigest(digest);
  } catch (cause) {
    throw new JsonShapeError(`${where}.digest: ${(cause as Error).message}`, { cause });
  }
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
    throw new JsonShapeError(`${where}.size: must be a non-negative integer`);
  }
  if (annotations !== undefined && !isStringMap(annotations)) {
    throw new JsonShapeError(`${where}.annotations: must map strings to strings`);
  }
  if (urls !== undefined && !(Array.isArray(urls) && urls.every((u) => typeof u === "string"))) {
    throw new JsonShapeError(`${where}.urls: must be a list of strings`);
  }
  if (platform !== undefined) parsePlatform(platform, `${where}.platform`);
  return value as Descriptor;
}

/** Validates a platform object. */
export function parsePlatform(value: unknown, where: string): Platform {
  if (!isObject(value) || typeof value.architecture !== "string" || typeof value.os !== "string") {
    throw new JsonShapeError(`${where}: must have string "architecture" and "os"`);
  }
  if (value.variant !== undefined && typeof value.variant !== "string") {
    throw new JsonShapeError(`${where}.variant: must be a string`);
  }
  return value as unknown as Platform;
}

/** Parses `os/arch[/variant]` as given on a command line. */
export function parsePlatformString(input: string): Platform {
  const parts = input.split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9._-]+$/i.test(p))) {
    throw new JsonShapeError(`invalid platform "${input}": expected os/arch[/variant], e.g. linux/amd64`);
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return variant ? { os, architecture, variant } : { os, architecture };
}

/** `os/arch[/variant]` for display and matching. */
export function toPlatformString(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join("/");
}

/** True when `candidate` satisfies `wanted` (a variant is matched only when asked for). */
export function platformMatches(candidate: Platform | undefined, wanted: Platform): boolean {
  if (!candidate) return false;
  if (candidate.os !== wanted.os || candidate.architecture !== wanted.architecture) return false;
  return wanted.variant === undefined || candidate.variant === wanted.variant;
}
