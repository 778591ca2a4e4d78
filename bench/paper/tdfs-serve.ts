/** `2dfs serve` as a subprocess on a free 127.0.0.1 port, with its access log in a file. */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { spawnDaemon, stopDaemon, waitForDaemon } from "../../test/e2e/support/daemon.ts";
import { freePort } from "../../test/e2e/support/index.ts";
import { tdfsCommand } from "../lib/tools.ts";

/** A running `2dfs serve`. */
export interface TdfsServeHandle {
  /** "127.0.0.1:PORT", ready to prefix a repository name. */
  url: string;
  logFile: string;
  stop(): Promise<void>;
}

/** Starts `2dfs serve --addr 127.0.0.1:PORT --data DIR/data`; resolves when GET /v2/ answers 200. */
export async function startTdfsServe(dir: string): Promise<TdfsServeHandle> {
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const url = `127.0.0.1:${port}`;
  const logFile = join(dir, "serve.log");
  const [cmd, ...pre] = tdfsCommand();
  const daemon = spawnDaemon("2dfs serve", cmd!, [...pre, "serve", "--addr", url, "--data", join(dir, "data")], logFile);
  const stop = () => stopDaemon(daemon, 5_000);
  try {
    await waitForDaemon(daemon, async () => (await fetch(`http://${url}/v2/`)).status === 200, 20_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, logFile, stop };
}
