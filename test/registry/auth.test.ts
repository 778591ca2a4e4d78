/**
 * Basic auth against probing and floods (issue 11, item 5): a wrong user name costs as much as
 * a wrong password, failures per address get 429 with Retry-After while a logged-in user keeps
 * working, and bcrypt checks queue only so far. Through the app, as `2dfs serve` runs it.
 */
import { beforeAll, expect, test } from "bun:test";
import { createRegistryApp } from "../../src/registry/app.ts";
import { createBasicAuth } from "../../src/registry/auth.ts";
import { createMemoryDriver } from "../../src/registry/driver/memory.ts";

const basic = (user: string, password: string) => ({ Authorization: `Basic ${btoa(`${user}:${password}`)}` });
let htpasswd4: string;
let htpasswd10: string;

beforeAll(async () => {
  // htpasswd -B writes $2y$, Bun $2b$: the same algorithm.
  const y = (h: string) => h.replace(/^\$2b\$/, "$2y$");
  htpasswd4 = `alice:${y(await Bun.password.hash("s3cret", { algorithm: "bcrypt", cost: 4 }))}\n`;
  // Cost 10 (~50 ms a check here) makes the timing differences far larger than the noise.
  htpasswd10 = `alice:${y(await Bun.password.hash("s3cret", { algorithm: "bcrypt", cost: 10 }))}\nbob:${y(await Bun.password.hash("b0b", { algorithm: "bcrypt", cost: 4 }))}\n`;
});

function appWith(htpasswd: string, auth: Parameters<typeof createRegistryApp>[0]["auth"] = {}) {
  const app = createRegistryApp({ driver: createMemoryDriver(), htpasswd, auth });
  return (headers: Record<string, string> = {}) => app.handle(new Request("http://localhost/v2/", { headers }));
}

async function timed(fn: () => Promise<Response>): Promise<{ ms: number; status: number }> {
  const t = performance.now();
  const res = await fn();
  await res.arrayBuffer();
  return { ms: performance.now() - t, status: res.status };
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

test("a wrong user name takes as long as a wrong password (dummy hash of the file's highest cost)", async () => {
  const get = appWith(htpasswd10, { failureLimits: { burst: 100 } });
  // The first unknown user waits for the dummy hash made at start: leave it out.
  await (await get(basic("nobody", "x"))).arrayBuffer();
  const wrongUser: number[] = [];
  const wrongPassword: number[] = [];
  for (let i = 0; i < 3; i++) {
    const u = await timed(() => get(basic(`nobody${i}`, "x")));
    const p = await timed(() => get(basic("alice", `wrong${i}`)));
    expect([u.status, p.status]).toEqual([401, 401]);
    wrongUser.push(u.ms);
    wrongPassword.push(p.ms);
  }
  // Before: 0.06 ms against ~50 ms. Both are now one cost-10 check.
  expect(median(wrongUser)).toBeGreaterThan(median(wrongPassword) * 0.5);
  expect(median(wrongUser)).toBeLessThan(median(wrongPassword) * 2);
});

test("failed logins from one address get 429 with Retry-After after the burst; a logged-in user keeps working", async () => {
  // Slow refill, so the second the 429 is held does not earn a new attempt.
  const get = appWith(htpasswd4, { failureLimits: { perSecond: 0.1 } });
  expect((await get(basic("alice", "s3cret"))).status).toBe(200);
  // Ten failures is the default burst.
  for (let i = 0; i < 10; i++) expect((await get(basic("alice", `guess${i}`))).status).toBe(401);
  const t = performance.now();
  const limited = await get(basic("alice", "guess-again"));
  expect(limited.status).toBe(429);
  // Held for a second, so a client that waits for its answer cannot refuse-loop thousands of times a second.
  expect(performance.now() - t).toBeGreaterThanOrEqual(990);
  expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  const body = (await limited.json()) as { errors: { code: string; detail: string }[] };
  expect(body.errors[0]!.code).toBe("TOOMANYREQUESTS");
  expect(body.errors[0]!.detail).toMatch(/too many failed logins from this address/);
  // Unknown users draw from the same bucket.
  expect((await get(basic("mallory", "x"))).status).toBe(429);
  // The remembered header of a valid login skips the limiter.
  expect((await get(basic("alice", "s3cret"))).status).toBe(200);
  // No credentials at all is not a failed login: still the 401 challenge.
  const anonymous = await get();
  expect(anonymous.status).toBe(401);
  expect(anonymous.headers.get("www-authenticate")).toBe('Basic realm="2dfs"');
});

test("a throttled address is slowed, not locked out: a valid user gets in once the bucket refills", async () => {
  const get = appWith(htpasswd4, { failureLimits: { burst: 2, perSecond: 10 }, throttleDelayMs: 0 });
  for (let i = 0; i < 2; i++) expect((await get(basic("alice", "no"))).status).toBe(401);
  const limited = await get(basic("alice", "s3cret"));
  expect(limited.status).toBe(429);
  await Bun.sleep(150);
  expect((await get(basic("alice", "s3cret"))).status).toBe(200);
});

test("bcrypt checks run a bounded number at a time; past the queue a request gets 429 at once", async () => {
  const get = appWith(htpasswd10, { verifyConcurrency: 1, verifyQueue: 2, failureLimits: { burst: 100 }, throttleDelayMs: 0 });
  const statuses = await Promise.all(Array.from({ length: 8 }, (_, i) => timed(() => get(basic("alice", `flood${i}`)))));
  const rejected = statuses.filter((s) => s.status === 429);
  // One running and two waiting are checked; the other five are refused without a check.
  expect(statuses.filter((s) => s.status === 401).length).toBe(3);
  expect(rejected.length).toBe(5);
  // Refused before the first check (tens of ms) has even finished.
  const checked = statuses.filter((s) => s.status === 401);
  expect(Math.max(...rejected.map((r) => r.ms))).toBeLessThan(Math.min(...checked.map((c) => c.ms)));
  const last = await get(basic("alice", "flood-last"));
  expect(last.status).toBe(401);
});

test("a verified header is remembered for the TTL only, then checked again", async () => {
  let clock = 0;
  const check = createBasicAuth(htpasswd10, { cacheTtlMs: 1000, now: () => clock });
  const request = () => new Request("http://localhost/v2/", { headers: basic("alice", "s3cret") });
  const first = performance.now();
  expect(await check(request(), "10.0.0.1")).toEqual({ kind: "user", user: "alice" });
  const uncachedMs = performance.now() - first;
  const t = performance.now();
  expect(await check(request(), "10.0.0.1")).toEqual({ kind: "user", user: "alice" });
  const cachedMs = performance.now() - t;
  expect(cachedMs).toBeLessThan(uncachedMs / 5);
  clock = 1001;
  const t2 = performance.now();
  expect(await check(request(), "10.0.0.1")).toEqual({ kind: "user", user: "alice" });
  expect(performance.now() - t2).toBeGreaterThan(cachedMs * 5);
  // Another header of the same user (a wrong password) is never taken from the cache.
  expect(await check(new Request("http://localhost/v2/", { headers: basic("alice", "s3cret ") }), "10.0.0.1")).toEqual({ kind: "denied" });
});
