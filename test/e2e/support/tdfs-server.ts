/** Starts `2dfs serve` (the compiled binary when TDFS_BIN is set) as a real process on 127.0.0.1. */
import { join } from "node:path";
import { cliCommand } from "../../support/cli.ts";
import { spawnDaemon, stopDaemon, waitForDaemon } from "./daemon.ts";
import { freePort } from "./free-port.ts";
import { makeTempDir, removeTempDir } from "./temp-dir.ts";

/** A running 2dfs registry. */
export interface TdfsServer {
  /** `127.0.0.1:PORT`, as image references name it. */
  host: string;
  dataDir: string;
  logFile: string;
  /** The server's process id (e.g. to read its peak memory from /proc). */
  pid: number;
  stop(): Promise<void>;
  /** Stops the process but keeps its data, for restart tests. */
  kill(): Promise<void>;
  /** SIGKILL, as a crash or power cut would: no handler runs. Data is kept. */
  crash(): Promise<void>;
}

/** Starts the registry with `extraArgs`; resolves when /v2/ answers. */
export async function startTdfsServer(extraArgs: string[] = [], dataDir?: string, scheme: "http" | "https" = "http"): Promise<TdfsServer> {
  const dir = await makeTempDir("2dfs-serve");
  const data = dataDir ?? join(dir, "data");
  const port = await freePort();
  const logFile = join(dir, "serve.log");
  const [cmd, ...pre] = cliCommand();
  const daemon = spawnDaemon("2dfs serve", cmd!, [...pre, "serve", "--addr", `127.0.0.1:${port}`, "--data", data, ...extraArgs], logFile);
  const host = `127.0.0.1:${port}`;
  await waitForDaemon(daemon, async () => (await fetch(`${scheme}://${host}/v2/`, { tls: { rejectUnauthorized: false } })).status < 500, 20_000);
  return {
    host,
    dataDir: data,
    logFile,
    pid: daemon.proc.pid,
    kill: () => stopDaemon(daemon, 5_000),
    async crash() {
      daemon.proc.kill("SIGKILL");
      await daemon.proc.exited;
    },
    async stop() {
      await stopDaemon(daemon, 5_000);
      await removeTempDir(dir);
    },
  };
}
