/**
 * `2dfs serve --htpasswd` as a process (the compiled binary when TDFS_BIN is set): failed logins
 * are limited per client address (429 + Retry-After), a logged-in user is not, and an unknown
 * user name answers no faster than a wrong password.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { makeTempDir, removeTempDir, startTdfsServer, type TdfsServer } from "../e2e/support/index.ts";

const basic = (user: string, password: string) => ({ Authorization: `Basic ${btoa(`${user}:${password}`)}` });
let dir: string;
let server: TdfsServer;

beforeAll(async () => {
  dir = await makeTempDir("2dfs-auth-serve");
  const hash = (await Bun.password.hash("s3cret", { algorithm: "bcrypt", cost: 10 })).replace(/^\$2b\$/, "$2y$");
  await Bun.write(join(dir, "htpasswd"), `alice:${hash}\n`);
  server = await startTdfsServer(["--htpasswd", join(dir, "htpasswd")]);
});

afterAll(async () => {
  await server?.stop();
  if (dir) await removeTempDir(dir);
});

async function timed(headers: Record<string, string>): Promise<{ ms: number; res: Response }> {
  const t = performance.now();
  const res = await fetch(`http://${server.host}/v2/`, { headers });
  await res.clone().arrayBuffer();
  return { ms: performance.now() - t, res };
}

test("unknown user as slow as a wrong password; after 10 failures 429 with Retry-After; a logged-in user still gets in", async () => {
  expect((await timed(basic("alice", "s3cret"))).res.status).toBe(200);
  // The first unknown user may wait for the dummy hash made at start: not timed.
  expect((await timed(basic("nobody", "x"))).res.status).toBe(401);
  const wrongUser: number[] = [];
  const wrongPassword: number[] = [];
  for (let i = 0; i < 4; i++) {
    const u = await timed(basic(`nobody${i}`, "x"));
    const p = await timed(basic("alice", `wrong${i}`));
    expect([u.res.status, p.res.status]).toEqual([401, 401]);
    wrongUser.push(u.ms);
    wrongPassword.push(p.ms);
  }
  const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[2]!;
  expect(median(wrongUser)).toBeGreaterThan(median(wrongPassword) * 0.5);
  // 9 failures so far, and the bucket regains one a second: a few more are checked, then refused.
  let failures = 9;
  let limited = (await timed(basic("alice", "again"))).res;
  while (limited.status === 401 && failures < 20) {
    failures++;
    limited = (await timed(basic("alice", `again${failures}`))).res;
  }
  expect(limited.status).toBe(429);
  expect(failures).toBeGreaterThanOrEqual(10);
  expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  expect(((await limited.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("TOOMANYREQUESTS");
  expect((await timed(basic("alice", "s3cret"))).res.status).toBe(200);
  const log = await Bun.file(server.logFile).text();
  expect(log).toMatch(/^127\.0\.0\.1 - "GET \/v2\/" 429 /m);
});
