/**
 * `2dfs serve --htpasswd` under a flood of wrong passwords (issue 11, item 5): 40 clients
 * send wrong passwords for a cost-12 bcrypt user as fast as they are answered, while one
 * logged-in user GETs a small blob every 20 ms. Reports that user's latency (p50, p99, max),
 * what the flood was answered, and the time of a wrong user name against a wrong password.
 * The server runs from source in its own process, the flood in another, the valid user in
 * this one. A first row without a flood gives the machine's floor at the time.
 *
 *   bun bench/auth.ts                              # this tree
 *   bun bench/auth.ts --before /tmp/auth-before    # and another tree (e.g. a worktree of HEAD)
 *
 * Writes bench/results/auth.json.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { printTable, writeResults } from "./lib/table.ts";

const FLOOD_CLIENTS = Number(process.env.BENCH_FLOOD_CLIENTS ?? 40);
const FLOOD_SECONDS = Number(process.env.BENCH_FLOOD_SECONDS ?? 6);
const COST = 12;

const { values } = parseArgs({ options: { before: { type: "string" } } });

async function freePort(): Promise<number> {
  return new Promise((done) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => done(port));
    });
  });
}

const basic = (user: string, password: string) => ({ Authorization: `Basic ${btoa(`${user}:${password}`)}` });
const quantile = (xs: number[], q: number) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const ms = (x: number) => Math.round(x * 10) / 10;

async function timed(url: string, headers: Record<string, string>): Promise<{ ms: number; status: number }> {
  const t = performance.now();
  const res = await fetch(url, { headers });
  await res.arrayBuffer();
  return { ms: performance.now() - t, status: res.status };
}

async function measure(label: string, root: string, htpasswd: string, floodClients: number) {
  const dir = await mkdtemp(join(tmpdir(), "2dfs-bench-auth-"));
  await Bun.write(join(dir, "htpasswd"), htpasswd);
  const port = await freePort();
  const proc = Bun.spawn(
    [process.execPath, join(root, "src/cli.ts"), "serve", "--addr", `127.0.0.1:${port}`, "--data", join(dir, "data"), "--htpasswd", join(dir, "htpasswd")],
    { stdout: "ignore", stderr: "inherit" },
  );
  const base = `http://127.0.0.1:${port}`;
  const valid = basic("bob", "right");
  try {
    for (let i = 0; ; i++) {
      const up = await fetch(`${base}/v2/`, { headers: valid }).then((r) => r.status, () => 0);
      if (up === 200) break;
      if (i > 200) throw new Error(`${label}: server did not come up`);
      await Bun.sleep(50);
    }
    // A small blob for the valid user to read: stat and read go through the thread pool.
    const blob = crypto.getRandomValues(new Uint8Array(4096));
    const digest = `sha256:${new Bun.CryptoHasher("sha256").update(blob).digest("hex")}`;
    const put = await fetch(`${base}/v2/bench/auth/blobs/uploads/?digest=${digest}`, { method: "POST", body: blob, headers: valid });
    if (put.status !== 201) throw new Error(`${label}: blob upload answered ${put.status}`);
    const blobUrl = `${base}/v2/bench/auth/blobs/${digest}`;

    // Probing: a user that does not exist against a wrong password for one that does (4 each, within the failure burst).
    const wrongUser: number[] = [];
    const wrongPassword: number[] = [];
    for (let i = 0; i < 4; i++) {
      wrongUser.push((await timed(`${base}/v2/`, basic(`nobody${i}`, "x"))).ms);
      wrongPassword.push((await timed(`${base}/v2/`, basic("alice", `wrong${i}`))).ms);
    }

    // The flood runs in a process of its own, so the valid user's timings are not those of a busy client loop.
    const flood = Bun.spawn([process.execPath, "--eval", floodScript(`${base}/v2/`, floodClients, FLOOD_SECONDS * 1000)], { stdout: "pipe", stderr: "inherit" });
    const latencies: number[] = [];
    const validStatuses = new Map<number, number>();
    const until = performance.now() + FLOOD_SECONDS * 1000;
    // The first second lets the flood build up.
    await Bun.sleep(1000);
    while (performance.now() < until) {
      const r = await timed(blobUrl, valid);
      latencies.push(r.ms);
      validStatuses.set(r.status, (validStatuses.get(r.status) ?? 0) + 1);
      await Bun.sleep(20);
    }
    const floodStatuses = new Map<number, number>(Object.entries(JSON.parse(await new Response(flood.stdout).text()) as Record<string, number>).map(([k, v]) => [Number(k), v]));
    const floodTotal = [...floodStatuses.values()].reduce((a, b) => a + b, 0);
    const fmt = (m: Map<number, number>) => [...m].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}x${n}`).join(" ");
    return {
      version: label,
      "flood clients": floodClients,
      "valid p50 ms": ms(quantile(latencies, 0.5)),
      "valid p99 ms": ms(quantile(latencies, 0.99)),
      "valid max ms": ms(Math.max(...latencies)),
      "valid requests": latencies.length,
      "valid answers": fmt(validStatuses),
      "flood req/s": Math.round(floodTotal / (FLOOD_SECONDS - 1)),
      "flood answers": fmt(floodStatuses),
      "wrong user ms": ms(quantile(wrongUser, 0.5)),
      "wrong password ms": ms(quantile(wrongPassword, 0.5)),
      // Other work on the machine shows here: bcrypt at cost 12 takes ~214 ms on an idle core.
      "load avg": ms(loadavg()[0]!),
    };
  } finally {
    proc.kill();
    await proc.exited;
    await rm(dir, { recursive: true, force: true });
  }
}

/** The flooding clients: wrong passwords for alice, each client sending its next as soon as one is answered; prints the answers' statuses as JSON. */
function floodScript(url: string, clients: number, durationMs: number): string {
  return `const counts = {};
const until = performance.now() + ${durationMs};
await Promise.all(Array.from({ length: ${clients} }, async (_, c) => {
  for (let i = 0; performance.now() < until; i++) {
    const headers = { Authorization: "Basic " + btoa("alice:guess-" + c + "-" + i) };
    const status = await fetch(${JSON.stringify(url)}, { headers }).then(async (r) => (await r.arrayBuffer(), r.status), () => 0);
    counts[status] = (counts[status] ?? 0) + 1;
  }
}));
console.log(JSON.stringify(counts));`;
}

const y = (h: string) => h.replace(/^\$2b\$/, "$2y$");
const htpasswd =
  `alice:${y(await Bun.password.hash("s3cret", { algorithm: "bcrypt", cost: COST }))}\n` +
  `bob:${y(await Bun.password.hash("right", { algorithm: "bcrypt", cost: COST }))}\n`;

const here = resolve(import.meta.dir, "..");
const rows = [];
// Without a flood: what the machine gives at the moment, to read the other rows against.
rows.push(await measure("after", here, htpasswd, 0));
if (values.before) rows.push(await measure("before", resolve(values.before), htpasswd, FLOOD_CLIENTS));
rows.push(await measure("after", here, htpasswd, FLOOD_CLIENTS));
const title = `Valid user under a flood of wrong passwords: ${FLOOD_CLIENTS} clients, bcrypt cost ${COST}, ${FLOOD_SECONDS - 1} s measured (GET of a 4 KiB blob every 20 ms)`;
printTable(title, rows);
await writeResults("auth", { floodClients: FLOOD_CLIENTS, floodSeconds: FLOOD_SECONDS - 1, cost: COST, rows });
