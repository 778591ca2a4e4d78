/** The private-CA bundle pull/push and an edge share: the CA beside Bun's roots and $SSL_CERT_FILE's certificates. */
import { afterAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { join } from "node:path";
import { CaFileError, caBundleWith, chosenCaFile, readCaFile } from "../../src/util/ca-bundle.ts";
import { tempDirs } from "../support/temp.ts";

const temps = tempDirs();
afterAll(() => temps.cleanup());
const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

test("the bundle keeps the default roots and $SSL_CERT_FILE's certificates beside the private CA", async () => {
  const dir = await temps.make();
  const system = join(dir, "system.pem");
  writeFileSync(system, PEM.replace("MIIB", "SYSTEM"));
  const saved = process.env.SSL_CERT_FILE;
  try {
    process.env.SSL_CERT_FILE = system;
    const bundle = caBundleWith(PEM);
    expect(bundle.slice(0, rootCertificates.length)).toEqual([...rootCertificates]);
    expect(bundle.slice(rootCertificates.length)).toEqual([PEM.replace("MIIB", "SYSTEM"), PEM]);
    delete process.env.SSL_CERT_FILE;
    expect(caBundleWith(PEM).slice(rootCertificates.length)).toEqual([PEM]);
  } finally {
    if (saved === undefined) delete process.env.SSL_CERT_FILE;
    else process.env.SSL_CERT_FILE = saved;
  }
});

test("the flag wins over $TDFS_CA_CERT; a missing or non-PEM file names itself and where it was named", async () => {
  const dir = await temps.make();
  const saved = process.env.TDFS_CA_CERT;
  try {
    process.env.TDFS_CA_CERT = "/env.pem";
    expect(chosenCaFile("/flag.pem", "--ca-cert")).toEqual({ file: "/flag.pem", from: "--ca-cert" });
    expect(chosenCaFile(undefined, "--ca-cert")).toEqual({ file: "/env.pem", from: "TDFS_CA_CERT" });
    delete process.env.TDFS_CA_CERT;
    expect(chosenCaFile(undefined, "--ca-cert")).toBeUndefined();
  } finally {
    if (saved === undefined) delete process.env.TDFS_CA_CERT;
    else process.env.TDFS_CA_CERT = saved;
  }
  const missing = join(dir, "missing.pem");
  expect(() => readCaFile({ file: missing, from: "--upstream-ca" })).toThrow(new CaFileError(`cannot read the CA certificate ${missing} (from --upstream-ca): no such file`));
  const text = join(dir, "text.pem");
  writeFileSync(text, "not a certificate");
  expect(() => readCaFile({ file: text, from: "TDFS_CA_CERT" })).toThrow(/holds no PEM certificate/);
  writeFileSync(text, PEM);
  expect(readCaFile({ file: text, from: "TDFS_CA_CERT" })).toBe(PEM);
});
