/** The platform of this machine in OCI terms: the default of pull and export, and of a build from scratch. */
import type { Platform } from "./descriptor.ts";

const ARCH: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };

/** `linux/<arch>` of this process (containers are Linux images whatever the host OS). */
export function hostPlatform(): Platform {
  const architecture = ARCH[process.arch] ?? process.arch;
  return architecture === "arm" ? { os: "linux", architecture, variant: "v7" } : { os: "linux", architecture };
}
