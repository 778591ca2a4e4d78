/**
 * `2dfs serve --tls-cert --tls-key` answers over HTTPS with the given certificate, and 2dfs's
 * own push and pull use it on 127.0.0.1: without a scheme (plain HTTP is tried, the TLS port
 * is recognised) or with `https://`, trusting the certificate through --ca-cert, TDFS_CA_CERT
 * or SSL_CERT_FILE, and refusing it, in one line of our own, when none names it.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { run2dfs } from "../support/cli.ts";
import { writeTree } from "../support/temp.ts";
import { describeIfE2E, makeTempDir, removeTempDir, run, startTdfsServer, type TdfsServer } from "./support/index.ts";

describeIfE2E("2dfs serve over TLS (e2e)", ["curl", "openssl"], () => {
  let dir: string;
  let server: TdfsServer;
  let cert: string;
  let key: string;
  let store: string;
  const image = () => `${server.host}/tls/field:v1`;
  // The environment may name the system's bundle in SSL_CERT_FILE: each run sets it or clears it.
  const env = (extra: Record<string, string> = {}) => ({ SSL_CERT_FILE: "", TDFS_CA_CERT: "", ...extra });

  beforeAll(async () => {
    dir = await makeTempDir("2dfs-tls-");
    [cert, key] = [join(dir, "cert.pem"), join(dir, "key.pem")];
    const made = await run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert]);
    expect(made.code).toBe(0);
    server = await startTdfsServer(["--tls-cert", cert, "--tls-key", key], undefined, "https");
    const allotments = [
      { src: "a.txt", dst: "/data/a.txt", row: 0, col: 0 },
      { src: "b.txt", dst: "/data/b.txt", row: 0, col: 1 },
      { src: "c.txt", dst: "/data/c.txt", row: 1, col: 0 },
    ];
    await writeTree(dir, { "ctx/a.txt": "cell a\n", "ctx/b.txt": "cell b\n", "ctx/c.txt": "cell c\n", "ctx/2dfs.json": JSON.stringify({ allotments }) });
    store = join(dir, "store");
    const built = await run2dfs(["build", "-t", "tls/field:v1", "-f", join(dir, "ctx", "2dfs.json"), "--store", store, "--quiet"]);
    expect(built.stderr).toBe("");
  });
  afterAll(async () => {
    await server?.stop();
    if (dir) await removeTempDir(dir);
  });

  test("HTTPS with a self-signed certificate for 127.0.0.1", async () => {
    const ok = await run("curl", ["-sS", "--cacert", cert, "-o", "/dev/null", "-w", "%{http_code}", `https://${server.host}/v2/`]);
    expect(ok.stdout).toBe("200");
    const untrusted = await run("curl", ["-sS", "-o", "/dev/null", `https://${server.host}/v2/`]);
    expect(untrusted.code).not.toBe(0); // the certificate is really served (curl refuses an unknown CA)
  });

  test("push without a scheme and with --ca-cert, then pull a partition with each way of trusting the certificate", async () => {
    const push = await run2dfs(["push", "tls/field:v1", image(), "--store", store, "--ca-cert", cert], { env: env() });
    expect(push.stderr).toContain(`pushed tls/field:v1 to ${image()}`);
    expect(push.code).toBe(0);

    const ways: [string, string[], Record<string, string>][] = [
      ["--ca-cert", [image(), "--ca-cert", cert], {}],
      ["TDFS_CA_CERT", [image()], { TDFS_CA_CERT: cert }],
      ["SSL_CERT_FILE", [image()], { SSL_CERT_FILE: cert }],
      ["https:// and --ca-cert", [`https://${image()}`, "--ca-cert", cert], {}],
    ];
    for (const [label, [ref, ...flags], extra] of ways) {
      const out = join(dir, `out-${label.replace(/\W+/g, "-")}`);
      const pull = await run2dfs(["pull", `${ref}--0.0.0.1`, ...flags, "-o", out, "--format", "files", "--store", join(dir, `pull-store-${label.replace(/\W+/g, "-")}`), "--quiet"], { env: env(extra) });
      expect({ label, code: pull.code, stderr: pull.stderr }).toEqual({ label, code: 0, stderr: "" });
      expect(await readFile(join(out, "data", "a.txt"), "utf8")).toBe("cell a\n");
      expect(await readFile(join(out, "data", "b.txt"), "utf8")).toBe("cell b\n");
      expect(await Bun.file(join(out, "data", "c.txt")).exists()).toBe(false); // row 1 is outside the partition
    }
  });

  test("without any of them the pull fails with our own one-line error naming the problem and the three options", async () => {
    for (const ref of [image(), `https://${image()}`]) {
      const pull = await run2dfs(["pull", `${ref}--0.0.0.1`, "-o", join(dir, "refused"), "--store", join(dir, "refused-store")], { env: env() });
      expect(pull.code).toBe(1);
      expect(pull.stderr).toContain(
        `\nerror: the TLS certificate of the registry ${server.host} is not trusted: it is self-signed; pass --ca-cert FILE, or set TDFS_CA_CERT or SSL_CERT_FILE, to a PEM file with that certificate or its CA's\n`,
      );
      expect(pull.stderr).not.toMatch(/verbose|fetch\(\)/);
      // existsSync, not Bun.file().exists(): the latter is false for a directory, which is what a pull would leave.
      expect(existsSync(join(dir, "refused"))).toBe(false);
    }
  });

  test("http:// forces plain HTTP: the failure says what happened, without the runtime's hints", async () => {
    const pull = await run2dfs(["pull", `http://${image()}`, "-o", join(dir, "plain"), "--store", join(dir, "plain-store")], { env: env({ TDFS_CA_CERT: cert }) });
    expect(pull.code).toBe(1);
    expect(pull.stderr).toContain(`the connection was closed before an answer came; if it serves HTTPS, name it https://${server.host}/...\n`);
    expect(pull.stderr).not.toMatch(/verbose|fetch\(\)/);
  });
});
