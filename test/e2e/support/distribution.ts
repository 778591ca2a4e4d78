/** The reference registry (distribution 2.8, Debian's docker-registry) on a free 127.0.0.1 port. */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { spawnDaemon, stopDaemon, waitForDaemon } from "./daemon.ts";
import { freePort } from "./free-port.ts";
import { makeTempDir, removeTempDir } from "./temp-dir.ts";
import { requireTool } from "./tools.ts";

/** A running distribution registry (plain HTTP, no auth, delete enabled). */
export interface DistributionHandle {
  /** "127.0.0.1:PORT", ready to prefix a repository name. */
  url: string;
  port: number;
  dir: string;
  logFile: string;
  /** Stops the registry and removes its storage. */
  stop(): Promise<void>;
}

/** Starts `docker-registry serve` with a temp filesystem store; resolves when GET /v2/ answers 200. */
export async function startDistribution(opts: { timeoutMs?: number; logLevel?: "warn" | "info"; proxyRemoteUrl?: string } = {}): Promise<DistributionHandle> {
  const bin = requireTool("docker-registry");
  const dir = await makeTempDir("distribution");
  const port = await freePort();
  const url = `127.0.0.1:${port}`;
  const logFile = join(dir, "registry.log");
  const configFile = join(dir, "config.yml");
  const q = (s: string) => JSON.stringify(s); // JSON strings are valid YAML scalars.
  await writeFile(
    configFile,
    [
      "version: 0.1",
      "log:",
      // At "info" the log has one access line per request (how tests count what a client fetched).
      `  level: ${opts.logLevel ?? "warn"}`,
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${q(join(dir, "data"))}`,
      "  delete:",
      "    enabled: true",
      "  maintenance:",
      "    uploadpurging:",
      "      enabled: false",
      "http:",
      `  addr: ${q(url)}`,
      // A fixed secret silences the "no HTTP secret" warning; nothing is shared between instances.
      "  secret: tdfs-e2e",
      // Pull-through mode (a baseline for `2dfs serve --upstream`).
      ...(opts.proxyRemoteUrl ? ["proxy:", `  remoteurl: ${q(opts.proxyRemoteUrl)}`] : []),
      "",
    ].join("\n"),
  );
  const daemon = spawnDaemon("docker-registry", bin, ["serve", configFile], logFile);
  const stop = async () => {
    await stopDaemon(daemon, 5_000);
    await removeTempDir(dir);
  };
  try {
    await waitForDaemon(daemon, async () => (await fetch(`http://${url}/v2/`)).status === 200, opts.timeoutMs ?? 15_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, port, dir, logFile, stop };
}
