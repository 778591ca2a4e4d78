/**
 * The registry client: one object per registry host holding auth state, with retries on
 * network errors, 429 and 5xx. Every manifest and small blob it returns is verified against
 * its digest; large blobs are streamed by blob-download.ts and blob-upload.ts on top of `request`.
 */
import type { Descriptor } from "../../oci/descriptor.ts";
import { type Digest, parseDigest } from "../../oci/digest.ts";
import { MAX_MANIFEST_BYTES, type ParsedManifest, parseManifest } from "../../oci/manifest.ts";
import { MANIFEST_MEDIA_TYPES } from "../../oci/media-types.ts";
import { DOCKER_HUB } from "../../oci/reference.ts";
import { sha256Bytes } from "../../hash/sha256.ts";
import { type Authenticator, createAuthenticator } from "../credentials/auth.ts";
import type { Credentials } from "../../util/docker-credential-helper.ts";
import { readCredentials } from "../credentials/docker-config.ts";
import { DigestMismatchError, RegistryUnreachableError, TlsCertificateError, toResponseError } from "../errors.ts";
import { certificateProblem, describeNetworkError, isCertificateError, isCertificateNameError, looksLikeTlsPort, networkErrorCode } from "./network-errors.ts";
import { DEFAULT_RETRY, type RetryPolicy, isRetryableStatus, retryDelay } from "./retry.ts";
import { type SocketTarget, socketTarget } from "./socket-http-get.ts";
import { type TlsTrust, loadTlsTrust } from "./tls-trust.ts";

/** How to reach a registry. */
export interface RegistryClientOptions {
  /** `host[:port]` as a reference names it (`docker.io` is mapped to its API host). */
  registry: string;
  /**
   * "https" or "http" (a reference's prefix) forces the scheme. Without it: HTTPS, except for
   * 127.0.0.1, localhost and ::1, which are asked over plain HTTP and move to HTTPS when their
   * first answer shows a TLS port.
   */
  scheme?: "https" | "http";
  /** Force plain HTTP (as scheme "http"). */
  insecure?: boolean;
  /** A PEM file of CA certificates trusted for HTTPS besides the default ones; default $TDFS_CA_CERT. */
  caCert?: string;
  /** Credentials; undefined reads them from Docker's config.json, null means anonymous. */
  credentials?: Credentials | null;
  retry?: Partial<RetryPolicy>;
  /**
   * How blob bodies are received from a plain-HTTP registry named by IPv4 address: "socket"
   * (2dfs's own socket, see socket-http-get.ts) or "fetch". Default: $TDFS_BLOB_TRANSPORT, else "socket".
   */
  blobTransport?: "socket" | "fetch";
}

/** One HTTP exchange through the client. */
export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** A factory so the body can be sent again on a retry (a Blob slice, bytes, or nothing). */
  body?: () => Blob | Uint8Array | string | null | undefined;
  /** Token scopes this request needs, e.g. `repository:foo:pull`. */
  scopes: readonly string[];
  /** Overrides the retry count of the client's policy. */
  retries?: number;
}

/** A manifest as fetched: its descriptor (digest computed from the bytes) and parsed form. */
export interface FetchedManifest {
  descriptor: Descriptor;
  parsed: ParsedManifest;
}

/** A registry client bound to one registry host. */
export interface RegistryClient {
  readonly registry: string;
  readonly baseUrl: string;
  readonly retry: RetryPolicy;
  /** Sends a request with auth and retries; `path` is relative to the base URL or absolute (upload locations). */
  request(path: string, opts: RequestOptions): Promise<Response>;
  /** Checks that the registry speaks /v2/ and that the credentials are accepted. */
  ping(): Promise<void>;
  getManifest(repo: string, reference: string): Promise<FetchedManifest>;
  /** The manifest's descriptor without its body, or undefined when it does not exist. */
  headManifest(repo: string, reference: string): Promise<Descriptor | undefined>;
  putManifest(repo: string, reference: string, bytes: Uint8Array, mediaType: string): Promise<Digest>;
  /** The blob's size, or undefined when the repository does not have it. */
  headBlob(repo: string, digest: Digest): Promise<number | undefined>;
  /** Reads a small blob whole (capped) and verifies it. */
  readBlob(repo: string, digest: Digest, maxBytes?: number): Promise<Uint8Array>;
  /** An absolute URL for a path or a (possibly relative) Location header. */
  resolveUrl(location: string): string;
  /** The Authorization header value the client holds for `scopes`, if any. */
  authorization(scopes: readonly string[]): string | undefined;
  /** Where blob GETs may go over 2dfs's own socket; undefined when they must use fetch. Cleared by `useFetchForBlobs`. */
  readonly socketTarget: SocketTarget | undefined;
  /** From now on, blob bodies come through fetch (e.g. the registry redirects them elsewhere). */
  useFetchForBlobs(): void;
}

/** Scopes for reading, and for reading and writing, one repository. */
export const pullScope = (repo: string): string => `repository:${repo}:pull`;
export const pushScope = (repo: string): string => `repository:${repo}:pull,push`;

/** The API host of a registry name (Docker Hub's differs from its name). */
export function toApiHost(registry: string): string {
  return registry === DOCKER_HUB || registry === "index.docker.io" ? "registry-1.docker.io" : registry;
}

/** True for hosts reached over plain HTTP without being asked: loopback only. */
export function isLoopbackHost(registry: string): boolean {
  const host = registry.startsWith("[") ? registry.slice(0, registry.indexOf("]") + 1) : registry.split(":")[0]!;
  return host === "127.0.0.1" || host === "localhost" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Creates a client for one registry; reads credentials from Docker's config when none are given. */
export async function createRegistryClient(opts: RegistryClientOptions): Promise<RegistryClient> {
  const host = toApiHost(opts.registry);
  const forced = opts.scheme ?? (opts.insecure ? "http" : undefined);
  const loopback = isLoopbackHost(host);
  let baseUrl = `${forced ?? (loopback ? "http" : "https")}://${host}`;
  const credentials = opts.credentials === null ? undefined : (opts.credentials ?? (await readCredentials(opts.registry)));
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...opts.retry };

  // The CA file is read at the first HTTPS request: a plain-HTTP pull never pays for it.
  let trust: Promise<TlsTrust> | undefined;
  /** fetch, trusting the CA file for HTTPS; a refused certificate becomes a TlsCertificateError that names `of`. */
  const send = async (url: string, init: RequestInit, of = `the registry ${host}`): Promise<Response> => {
    try {
      if (!url.startsWith("https:")) return await fetch(url, init);
      const { tls } = await (trust ??= loadTlsTrust(opts.caCert));
      return await fetch(url, tls ? { ...init, tls } : init);
    } catch (cause) {
      throw isCertificateError(cause) ? await certificateError(cause, of) : cause;
    }
  };
  const certificateError = async (cause: unknown, of: string): Promise<TlsCertificateError> => {
    const problem = certificateProblem(cause);
    if (isCertificateNameError(cause)) {
      return new TlsCertificateError(`the TLS certificate of ${of} is not valid for that name: ${problem}; use a host name or address it lists`, { cause });
    }
    const caFile = (await trust?.catch(() => undefined))?.caFile;
    const against = caFile ? ` by ${caFile} or the default CAs` : "";
    return new TlsCertificateError(
      `the TLS certificate of ${of} is not trusted${against}: ${problem}; pass --ca-cert FILE, or set TDFS_CA_CERT or SSL_CERT_FILE, to a PEM file with that certificate or its CA's`,
      { cause },
    );
  };

  const auth: Authenticator = createAuthenticator({
    credentials,
    fetchToken: (url, headers) => withRetries(retry, retry.retries, () => send(url.toString(), { headers }, `the token server ${url.host}`)),
  });
  const resolveUrl = (location: string): string => new URL(location, `${baseUrl}/`).toString();

  // A loopback registry named without a scheme is asked over plain HTTP, as before, so a
  // plain-HTTP pull starts with no extra round trip. Docker asks such registries over HTTPS
  // first; here a first exchange that fails as a TLS port answers plain HTTP (connection reset
  // by Bun's TLS server, a 400 from Go's or nginx's) asks /v2/ over HTTPS once, shared by
  // concurrent requests, and moves everything there if it answers.
  const mayProbeTls = forced === undefined && loopback;
  let probe: Promise<boolean> | undefined;
  const probeHttps = (): Promise<boolean> =>
    (probe ??= (async () => {
      try {
        const res = await send(`https://${host}/v2/`, { method: "GET" });
        await res.body?.cancel().catch(() => {});
      } catch (cause) {
        if (cause instanceof TlsCertificateError) throw cause; // refused, or the CA file given cannot be used
        return false; // not a TLS port after all: the plain-HTTP failure stands
      }
      baseUrl = `https://${host}`;
      blobSocket = undefined;
      return true;
    })());

  // Until the registry has answered once, a refused connection or an unknown host is a wrong
  // address or a registry that is not running: say so at once instead of retrying for seconds.
  let answered = false;
  const request = async (path: string, r: RequestOptions): Promise<Response> => {
    let authRetried = 0;
    let attempt = 0;
    const retries = r.retries ?? retry.retries;
    for (;;) {
      const url = resolveUrl(path); // in the loop: the base moves to HTTPS after a probe
      const headers: Record<string, string> = { ...r.headers };
      const authorization = auth.header(r.scopes);
      if (authorization) headers.Authorization = authorization;
      let res: Response;
      try {
        res = await send(url, { method: r.method ?? "GET", headers, body: r.body?.() ?? null, redirect: "follow" });
      } catch (cause) {
        if (cause instanceof TlsCertificateError) throw cause;
        const plain = url.startsWith("http:");
        if (!answered && mayProbeTls && plain && looksLikeTlsPort(cause) && (await probeHttps())) continue;
        const code = networkErrorCode(cause);
        if (!answered && (code === "ECONNREFUSED" || code === "ENOTFOUND")) {
          const why = describeNetworkError(cause);
          throw new RegistryUnreachableError(`cannot reach the registry ${host} (${why}): is it running, and is the address right?`, { cause });
        }
        if (!answered && code === "EPROTO" && !plain) {
          throw new RegistryUnreachableError(`cannot reach the registry ${host} over HTTPS (the TLS handshake failed): if it serves plain HTTP, name it http://${host}/...`, { cause });
        }
        if (attempt >= retries) {
          const tlsPort = !answered && plain && looksLikeTlsPort(cause) ? `; if it serves HTTPS, name it https://${host}/...` : "";
          throw new RegistryUnreachableError(`${r.method ?? "GET"} ${url}: ${describeNetworkError(cause)}${tlsPort}`, { cause });
        }
        attempt++;
        await Bun.sleep(retryDelay(retry, attempt));
        continue;
      }
      if (!answered && mayProbeTls && res.status === 400 && url.startsWith("http:") && (await probeHttps())) {
        await res.body?.cancel().catch(() => {});
        continue;
      }
      answered = true;
      if (res.status === 401 && authRetried < 2) {
        await res.body?.cancel().catch(() => {});
        authRetried++;
        if (await auth.challenge(res.headers.get("www-authenticate"), r.scopes, authorization)) continue;
        return res;
      }
      if (isRetryableStatus(res.status) && attempt < retries) {
        await res.body?.cancel().catch(() => {});
        attempt++;
        await Bun.sleep(retryDelay(retry, attempt, res.headers.get("retry-after")));
        continue;
      }
      return res;
    }
  };

  const transport = opts.blobTransport ?? (process.env.TDFS_BLOB_TRANSPORT === "fetch" ? "fetch" : "socket");
  // fetch honours an HTTP proxy from the environment; the own socket does not, so it steps aside.
  const proxied = !isLoopbackHost(host) && Boolean(process.env.http_proxy || process.env.HTTP_PROXY);
  let blobSocket = transport === "socket" && !proxied ? socketTarget(baseUrl) : undefined;
  const client: RegistryClient = {
    registry: opts.registry,
    get baseUrl() {
      return baseUrl;
    },
    retry,
    request,
    resolveUrl,
    authorization: (scopes) => auth.header(scopes),
    get socketTarget() {
      return blobSocket;
    },
    useFetchForBlobs() {
      blobSocket = undefined;
    },
    async ping() {
      const res = await request("/v2/", { scopes: [] });
      if (!res.ok) throw await toResponseError(res, `${opts.registry}/v2/`);
      await res.body?.cancel().catch(() => {});
    },
    async getManifest(repo, reference) {
      const res = await request(`/v2/${repo}/manifests/${reference}`, {
        scopes: [pullScope(repo)],
        headers: { Accept: MANIFEST_MEDIA_TYPES.join(", ") },
      });
      if (!res.ok) throw await toResponseError(res, `manifest ${opts.registry}/${repo}:${reference}`);
      const bytes = await readCapped(res, MAX_MANIFEST_BYTES, `manifest ${repo}:${reference}`);
      const digest = sha256Bytes(bytes);
      const expected = reference.includes(":") ? reference : res.headers.get("docker-content-digest");
      if (expected && parseDigest(expected).algorithm === "sha256" && expected !== digest) {
        throw new DigestMismatchError(`manifest ${repo}:${reference}: content hashes to ${digest}, expected ${expected}`);
      }
      const contentType = res.headers.get("content-type")?.split(";")[0]?.trim();
      const parsed = parseManifest(bytes, contentType);
      return { descriptor: { mediaType: parsed.mediaType, digest, size: bytes.byteLength }, parsed };
    },
    async headManifest(repo, reference) {
      const res = await request(`/v2/${repo}/manifests/${reference}`, {
        method: "HEAD",
        scopes: [pullScope(repo)],
        headers: { Accept: MANIFEST_MEDIA_TYPES.join(", ") },
      });
      if (res.status === 404) return undefined;
      if (!res.ok) throw await toResponseError(res, `manifest ${opts.registry}/${repo}:${reference}`);
      const digest = res.headers.get("docker-content-digest");
      const size = Number(res.headers.get("content-length"));
      const mediaType = res.headers.get("content-type")?.split(";")[0]?.trim() ?? "";
      if (!digest) return undefined;
      return { mediaType, digest: parseDigest(digest).digest, size };
    },
    async putManifest(repo, reference, bytes, mediaType) {
      const res = await request(`/v2/${repo}/manifests/${reference}`, {
        method: "PUT",
        scopes: [pushScope(repo)],
        headers: { "Content-Type": mediaType },
        body: () => bytes,
      });
      if (!res.ok) throw await toResponseError(res, `push manifest ${opts.registry}/${repo}:${reference}`);
      await res.body?.cancel().catch(() => {});
      return sha256Bytes(bytes);
    },
    async headBlob(repo, digest) {
      const res = await request(`/v2/${repo}/blobs/${digest}`, { method: "HEAD", scopes: [pullScope(repo)] });
      if (res.status === 404) return undefined;
      if (!res.ok) throw await toResponseError(res, `blob ${opts.registry}/${repo}@${digest}`);
      const size = Number(res.headers.get("content-length"));
      return Number.isSafeInteger(size) ? size : undefined;
    },
    async readBlob(repo, digest, maxBytes = MAX_MANIFEST_BYTES) {
      const res = await request(`/v2/${repo}/blobs/${digest}`, { scopes: [pullScope(repo)] });
      if (!res.ok) throw await toResponseError(res, `blob ${opts.registry}/${repo}@${digest}`);
      const bytes = await readCapped(res, maxBytes, `blob ${digest}`);
      verifyBytes(bytes, digest, `blob ${repo}@${digest}`);
      return bytes;
    },
  };
  return client;
}

/** Reads a response body whole, refusing more than `maxBytes`. */
export async function readCapped(res: Response, maxBytes: number, what: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw new DigestMismatchError(`${what} is ${declared} bytes, over the ${maxBytes} byte limit`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body ?? new ReadableStream<Uint8Array>()) {
    total += chunk.byteLength;
    if (total > maxBytes) throw new DigestMismatchError(`${what} is over the ${maxBytes} byte limit`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Throws DigestMismatchError unless `bytes` hash to `digest` (sha256; other algorithms are refused). */
export function verifyBytes(bytes: Uint8Array, digest: Digest, what: string): void {
  if (parseDigest(digest).algorithm !== "sha256") throw new DigestMismatchError(`${what}: only sha256 digests can be verified`);
  const actual = sha256Bytes(bytes);
  if (actual !== digest) throw new DigestMismatchError(`${what}: content hashes to ${actual}, expected ${digest}`);
}

async function withRetries(policy: RetryPolicy, retries: number, fn: () => Promise<Response>): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fn();
      if (isRetryableStatus(res.status) && attempt < retries) {
        await Bun.sleep(retryDelay(policy, attempt + 1, res.headers.get("retry-after")));
        continue;
      }
      return res;
    } catch (cause) {
      if (cause instanceof TlsCertificateError) throw cause;
      if (attempt >= retries) throw new RegistryUnreachableError(`token request: ${describeNetworkError(cause)}`, { cause });
      await Bun.sleep(retryDelay(policy, attempt + 1));
    }
  }
}
