/** Starts the real distribution registry (`docker-registry serve`) on a free 127.0.0.1 port for a test. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A running registry: `host` is `127.0.0.1:PORT`. */
export interface RunningRegistry {
  host: string;
  stop(): Promise<void>;
}

/** A port the OS reports free right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts `docker-registry` with a temp storage folder (over TLS when `tls` names PEM files); waits until /v2/ answers. */
export async function startDistribution(opts: { tls?: { cert: string; key: string } } = {}): Promise<RunningRegistry> {
  const dir = await mkdtemp(join(tmpdir(), "2dfs-distribution-"));
  const port = await freePort();
  const config = [
    "version: 0.1",
    "log:",
    "  level: error",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${join(dir, "data")}`,
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: 127.0.0.1:${port}`,
    ...(opts.tls ? ["  tls:", `    certificate: ${opts.tls.cert}`, `    key: ${opts.tls.key}`] : []),
    "",
  ].join("\n");
  await writeFile(join(dir, "config.yml"), config);
  const proc = Bun.spawn(["docker-registry", "serve", join(dir, "config.yml")], { stdout: "ignore", stderr: "pipe" });
  const host = `127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(`${opts.tls ? "https" : "http"}://${host}/v2/`, { tls: { rejectUnauthorized: false } }).then((r) => r.ok, () => false);
    if (ok) break;
    if (proc.exitCode !== null) throw new Error(`docker-registry exited: ${await new Response(proc.stderr).text()}`);
    await Bun.sleep(25);
  }
  return {
    host,
    async stop() {
      proc.kill();
      await proc.exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
