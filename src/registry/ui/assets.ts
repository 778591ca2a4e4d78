/**
 * The page's files, made at bundle time by a Bun macro: `bun build --compile` runs it and
 * inlines the strings, so the binary serves the page from memory without the source tree.
 * Run from source, the macro runs when this module is first loaded (about 50 ms).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The page: its HTML document, bundled script (page/main.ts and what it imports) and stylesheet. */
export interface UiAssets {
  html: string;
  js: string;
  css: string;
}

/** Bundles the page. A macro: call it only with `with { type: "macro" }`. */
export function bundleUiAssets(): UiAssets {
  const page = join(import.meta.dir, "page");
  // Bun.build would deadlock inside a macro (the bundler waits for the macro); the CLI does not.
  const built = Bun.spawnSync([process.execPath, "build", join(page, "main.ts"), "--target=browser", "--format=esm", "--minify"], {
    stdout: "pipe",
    stderr: "pipe",
  });
  if (!built.success) throw new Error(`bundling the web page failed: ${built.stderr.toString()}`);
  return {
    html: readFileSync(join(page, "index.html"), "utf8"),
    js: built.stdout.toString(),
    css: readFileSync(join(page, "style.css"), "utf8"),
  };
}
