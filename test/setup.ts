/** Preloaded by bunfig.toml: e2e suites start real daemons, so a test may take longer than bun's 5 s default. */
import { setDefaultTimeout } from "bun:test";

setDefaultTimeout(120_000);
