/** `2dfs serve`: runs the OCI registry (with on-demand partitions) until SIGINT/SIGTERM. */
import { HtpasswdError } from "../registry/auth.ts";
import { ServeOptionsError, startRegistry } from "../registry/server.ts";
import { UsageError } from "./errors.ts";
import { defaultRegistryDir, openStorage } from "./storage-option.ts";
import { type UpstreamFlags, toUpstreamOptions } from "./serve-upstream.ts";

/** Flags of `2dfs serve`. */
export interface ServeFlags extends UpstreamFlags {
  addr?: string;
  data?: string;
  /** `s3://BUCKET/PREFIX?endpoint=URL`: serve from object storage (replicas may share it). */
  storage?: string;
  readOnly?: boolean;
  /** Blob GETs answered with a redirect to a presigned URL of the object store. */
  redirect?: boolean;
  htpasswd?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** No access log. */
  quiet?: boolean;
  /** False with `--no-ui`: no web page at `/`. */
  ui?: boolean;
  /** The tier label of /metrics. */
  tier?: string;
}

/** Starts the registry and resolves when a signal has stopped it. */
export async function serveCommand(flags: ServeFlags): Promise<void> {
  const storage = flags.storage !== undefined ? await openStorage(flags.storage, flags.data) : undefined;
  const dataDir = storage ? undefined : defaultRegistryDir(flags.data);
  const upstream = toUpstreamOptions(flags);
  let server;
  try {
    server = await startRegistry({
      addr: flags.addr ?? "127.0.0.1:5000",
      dataDir,
      driver: storage?.driver,
      readOnly: flags.readOnly,
      redirect: flags.redirect,
      htpasswdFile: flags.htpasswd,
      tlsCert: flags.tlsCert,
      tlsKey: flags.tlsKey,
      ui: flags.ui !== false,
      upstream,
      tier: flags.tier,
      log: flags.quiet ? undefined : (line) => process.stdout.write(`${line}\n`),
    });
  } catch (e) {
    if (e instanceof ServeOptionsError || e instanceof HtpasswdError) {
      throw new UsageError(e.message, "2dfs serve [--addr 127.0.0.1:5000] [--data DIR] [--read-only] [--htpasswd FILE] [--tls-cert F --tls-key F] [--no-ui]");
    }
    throw e;
  }
  const mode = flags.readOnly ? ", read-only" : "";
  process.stderr.write(`2dfs registry listening on ${server.url} (data in ${storage?.where ?? dataDir}${mode})\n`);
  for (const t of upstream?.targets ?? []) process.stderr.write(`pull-through cache of ${t.url}${t.prefix ? ` for ${t.prefix}*` : ""}\n`);
  if (flags.ui !== false) process.stderr.write(`web page: ${server.url}/\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      void server.stop().then(resolve, resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
