/**
 * `2dfs login` on a terminal: run under `script` (a real pseudo-terminal), it asks for the user
 * name and password, does not echo the password, and saves the credentials in DOCKER_CONFIG.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cliCommand } from "../support/cli.ts";
import { makeTempDir, removeTempDir, startTdfsServer, type TdfsServer } from "../e2e/support/index.ts";

const PASSWORD = "s3cret-typed";

describe("2dfs login on a terminal", () => {
  let dir: string;
  let server: TdfsServer;
  beforeAll(async () => {
    dir = await makeTempDir("2dfs-login-tty-");
    const hash = await Bun.password.hash(PASSWORD, { algorithm: "bcrypt", cost: 4 });
    await writeFile(join(dir, "htpasswd"), `typist:${hash}\n`);
    server = await startTdfsServer(["--htpasswd", join(dir, "htpasswd")]);
  });
  afterAll(async () => {
    await server?.stop();
    await removeTempDir(dir);
  });

  /** Runs `2dfs login` in a pseudo-terminal, typing each answer once its prompt has appeared. */
  async function loginOnTerminal(answers: { prompt: string; text: string }[]): Promise<{ code: number; output: string }> {
    const command = [...cliCommand(), "login", server.host].map((a) => `'${a}'`).join(" ");
    const proc = Bun.spawn(["script", "-qefc", command, "/dev/null"], {
      env: { ...process.env, DOCKER_CONFIG: join(dir, "docker-config") },
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    let output = "";
    const reader = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of proc.stdout) output += decoder.decode(chunk);
    })();
    let seen = 0;
    for (const { prompt, text } of answers) {
      for (let i = 0; i < 500 && output.indexOf(prompt, seen) < 0; i++) await Bun.sleep(10);
      expect(output.slice(seen)).toContain(prompt);
      seen = output.indexOf(prompt, seen) + prompt.length;
      proc.stdin.write(`${text}\r`);
      await proc.stdin.flush();
    }
    const code = await proc.exited;
    await reader;
    return { code, output };
  }

  test("asks for both, hides the password, and saves what was typed", async () => {
    const { code, output } = await loginOnTerminal([
      { prompt: "Username: ", text: "typist" },
      { prompt: "Password: ", text: PASSWORD },
    ]);
    expect(output).toContain("Login succeeded");
    expect(code).toBe(0);
    expect(output).toContain("typist"); // the user name is echoed as typed
    expect(output).not.toContain(PASSWORD);
    const config = JSON.parse(await readFile(join(dir, "docker-config", "config.json"), "utf8"));
    expect(Buffer.from(config.auths[server.host].auth, "base64").toString()).toBe(`typist:${PASSWORD}`);
  });

  test("a wrong password typed on the terminal is refused and nothing is saved", async () => {
    await removeTempDir(join(dir, "docker-config"));
    const { code, output } = await loginOnTerminal([
      { prompt: "Username: ", text: "typist" },
      { prompt: "Password: ", text: "not-it" },
    ]);
    expect(code).toBe(1);
    expect(output).toMatch(/login to .* failed/);
    expect(output).not.toContain("not-it");
    expect(await Bun.file(join(dir, "docker-config", "config.json")).exists()).toBe(false);
  });
});
