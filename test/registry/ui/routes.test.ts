import { describe, expect, test } from "bun:test";
import { createRegistryApp } from "../../../src/registry/app.ts";
import { createMemoryDriver } from "../../../src/registry/driver/memory.ts";

const get = (app: ReturnType<typeof createRegistryApp>, path: string, headers: Record<string, string> = {}) =>
  app.handle(new Request(`http://registry.test${path}`, { headers }));

describe("web page routes", () => {
  test("/ serves the page, its script and stylesheet from memory, locked to this origin", async () => {
    const app = createRegistryApp({ driver: createMemoryDriver(), ui: true });
    const page = await get(app, "/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toStartWith("text/html");
    expect(page.headers.get("content-security-policy")).toContain("connect-src 'self'");
    const html = await page.text();
    expect(html).toContain('<script type="module" src="/ui/app.js">');
    const js = await get(app, "/ui/app.js");
    expect(js.headers.get("content-type")).toStartWith("text/javascript");
    const code = await js.text();
    // The bundle holds the page and the field reader it shares with the registry.
    expect(code).toContain("io.2dfs.field.cells");
    expect(code).not.toMatch(/https?:\/\/[a-z]/i);
    expect((await get(app, "/ui/app.css")).status).toBe(200);
    expect((await get(app, "/v2/")).status).toBe(200);
  });

  test("without the page, / is an unknown endpoint", async () => {
    const app = createRegistryApp({ driver: createMemoryDriver(), ui: false });
    expect((await get(app, "/")).status).toBe(404);
    expect((await get(app, "/ui/app.js")).status).toBe(404);
  });

  test("with htpasswd the page asks for the password as the API does (the browser's prompt)", async () => {
    const hash = (await Bun.password.hash("s3cret", { algorithm: "bcrypt", cost: 4 })).replace(/^\$2b\$/, "$2y$");
    const app = createRegistryApp({ driver: createMemoryDriver(), ui: true, htpasswd: `alice:${hash}\n` });
    const denied = await get(app, "/");
    expect(denied.status).toBe(401);
    expect(denied.headers.get("www-authenticate")).toStartWith("Basic ");
    const allowed = await get(app, "/", { Authorization: `Basic ${btoa("alice:s3cret")}` });
    expect(allowed.status).toBe(200);
  });
});
