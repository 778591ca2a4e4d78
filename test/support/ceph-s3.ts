/** A Ceph RGW for a test file: scripts/ceph-s3.sh under a temp folder, started once, stopped after. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { S3Location } from "../../src/registry/driver/s3-location.ts";

const SCRIPT = join(import.meta.dir, "../../scripts/ceph-s3.sh");

/** A running single-node cluster with one bucket. */
export interface CephS3 {
  dir: string;
  /** S3_ENDPOINT, S3_BUCKET, AWS_* as the script printed them. */
  env: Record<string, string>;
  /** A location in the bucket under a fresh prefix, so tests never see each other's keys. */
  location(prefix?: string): S3Location;
  stop(): Promise<void>;
}

/** Starts a cluster (installing the Debian packages if missing); call stop() in afterAll. */
export async function startCephS3(): Promise<CephS3> {
  const dir = await mkdtemp(join(tmpdir(), "2dfs-ceph-"));
  const run = (cmd: string) => Bun.spawnSync(["bash", SCRIPT, cmd, dir], { stdout: "pipe", stderr: "pipe" });
  const started = run("start");
  if (started.exitCode !== 0) {
    run("stop");
    throw new Error(`scripts/ceph-s3.sh start failed: ${started.stderr.toString().trim()}`);
  }
  const env: Record<string, string> = {};
  for (const line of started.stdout.toString().split("\n")) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) env[m[1]!] = m[2]!;
  }
  let n = 0;
  return {
    dir,
    env,
    location: (prefix) => ({
      bucket: env.S3_BUCKET!,
      prefix: prefix ?? `t${process.pid}-${Date.now()}-${n++}`,
      endpoint: env.S3_ENDPOINT!,
      region: env.AWS_REGION!,
      accessKeyId: env.AWS_ACCESS_KEY_ID!,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY!,
    }),
    async stop() {
      run("stop");
      await rm(dir, { recursive: true, force: true });
    },
  };
}
