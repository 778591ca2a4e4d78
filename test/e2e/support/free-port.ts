/** Picks a currently free TCP port on 127.0.0.1. */
import { createServer } from "node:net";

/** Asks the kernel for an unused 127.0.0.1 port (free at the time of the call; the daemon binds it next). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("could not read the bound port"))));
    });
  });
}
