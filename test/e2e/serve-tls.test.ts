/** `2dfs serve --tls-cert --tls-key` answers over HTTPS with the given certificate. */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { describeIfE2E, makeTempDir, removeTempDir, run, startTdfsServer, type TdfsServer } from "./support/index.ts";

describeIfE2E("2dfs serve over TLS (e2e)", ["curl", "openssl"], () => {
  let dir: string | undefined;
  let server: TdfsServer | undefined;
  afterAll(async () => {
    await server?.stop();
    if (dir) await removeTempDir(dir);
  });

  test("HTTPS with a self-signed certificate for 127.0.0.1", async () => {
    dir = await makeTempDir("2dfs-tls-");
    const [cert, key] = [join(dir, "cert.pem"), join(dir, "key.pem")];
    const made = await run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert]);
    expect(made.code).toBe(0);
    server = await startTdfsServer(["--tls-cert", cert, "--tls-key", key], undefined, "https");
    const ok = await run("curl", ["-sS", "--cacert", cert, "-o", "/dev/null", "-w", "%{http_code}", `https://${server.host}/v2/`]);
    expect(ok.stdout).toBe("200");
    const untrusted = await run("curl", ["-sS", "-o", "/dev/null", `https://${server.host}/v2/`]);
    expect(untrusted.code).not.toBe(0); // the certificate is really served (curl refuses an unknown CA)
  });
});
