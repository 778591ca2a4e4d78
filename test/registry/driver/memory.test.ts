import { createMemoryDriver } from "../../../src/registry/driver/memory.ts";
import { runDriverSuite } from "./driver-suite.ts";

runDriverSuite("memory", async () => createMemoryDriver());
