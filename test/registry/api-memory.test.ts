import { createMemoryDriver } from "../../src/registry/driver/memory.ts";
import { runApiSuite } from "./api-suite.ts";

runApiSuite("memory driver", async () => createMemoryDriver());
