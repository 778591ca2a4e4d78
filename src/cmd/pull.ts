/** `2dfs pull REF -o DIR`: an image or a partition from any registry, as files, a rootfs or an OCI layout. */
import { createLayoutStore } from "../content/layout-store.ts";
import { defaultStoreDir } from "../content/paths.ts";
import { parsePlatformString } from "../oci/descriptor.ts";
import { parseReference, toFamiliarString } from "../oci/reference.ts";
import { createReporter } from "../client/progress-reporter.ts";
import { formatBytes } from "../util/format-bytes.ts";
import { type PullFormat, pullImage } from "../client/pull-image.ts";
import { createRegistryClient } from "../client/transport/registry-client.ts";
import { toPlatformString } from "../oci/descriptor.ts";
import { UsageError } from "./errors.ts";
import { writeTo } from "../util/terminal.ts";

/** Flags of `2dfs pull`. */
export interface PullFlags {
  output?: string;
  format?: string;
  platform?: string;
  /** A PEM CA file trusted for HTTPS besides the defaults. */
  caCert?: string;
  jobs?: number | string;
  store?: string;
  quiet?: boolean;
  json?: boolean;
  clean?: boolean;
}

const FORMATS: readonly PullFormat[] = ["files", "rootfs", "oci"];

/** Pulls `ref` into `--output`. */
export async function pullCommand(ref: string, flags: PullFlags): Promise<void> {
  if (!flags.output) throw new UsageError("missing -o DIR", "2dfs pull 127.0.0.1:5000/model:v1--0.0.1.1 -o ./out");
  const format = (flags.format ?? "files") as PullFormat;
  if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(", ")}, got "${flags.format}"`);
  const jobs = Number(flags.jobs ?? 4);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new UsageError(`--jobs must be an integer from 1 to 64, got "${flags.jobs}"`);
  const reference = parseReference(ref);
  const platform = flags.platform ? parsePlatformString(flags.platform) : undefined;
  const client = await createRegistryClient({ registry: reference.registry, scheme: reference.scheme, caCert: flags.caCert });
  // Opened on the next turn of the event loop, by when pullImage has sent its first request:
  // creating a new store takes a few ms of file system calls that would otherwise delay it.
  const storeDir = defaultStoreDir(flags.store);
  const store = new Promise<void>((resolve) => setImmediate(resolve)).then(() => createLayoutStore(storeDir));
  store.catch(() => {}); // awaited by pullImage, beside the first request
  const reporter = createReporter({ quiet: flags.quiet, json: flags.json });
  const started = performance.now();
  let bytes = 0;
  const observer = { ...reporter, advance: (d: Parameters<typeof reporter.advance>[0], n: number) => ((bytes += n), reporter.advance(d, n)) };
  // A pull whose work stalls (a decoder that neither ends nor fails) would leave nothing for the
  // event loop to wait on, and the process would exit 0 having pulled nothing: make that a failure.
  let settled = false;
  const stalled = (): void => {
    if (settled) return;
    settled = true;
    writeTo(2, "error: the pull stopped before it finished (a layer's decoder stalled); the output folder was left as it was\n");
    process.exitCode = 1;
  };
  process.once("beforeExit", stalled);
  try {
    const result = await pullImage(reference, { dir: flags.output, format, platform, store, jobs, observer, client, clean: flags.clean === true });
    if (result.merged) {
      // Said even with --quiet: files from before beside the new ones are easy to mistake for part of the image.
      writeTo(2, `note: ${flags.output} was not empty: the pulled files were merged with what was there (--clean replaces its content)\n`);
    }
    const seconds = (performance.now() - started) / 1000;
    reporter.event({ event: "pulled", reference: toFamiliarString(reference), digest: result.manifestDigest, platform: toPlatformString(result.platform), layers: result.layers, downloaded: result.downloaded, cached: result.cached, bytes, format, output: flags.output });
    reporter.finish(
      `pulled ${toFamiliarString(reference)} (${toPlatformString(result.platform)}, ${result.layers} layer${result.layers === 1 ? "" : "s"}: ${result.downloaded} downloaded, ${result.cached} cached, ${formatBytes(bytes)} in ${seconds.toFixed(2)} s) into ${flags.output} as ${format}`,
    );
  } catch (error) {
    reporter.finish("pull failed; the output folder was left as it was");
    throw error;
  } finally {
    settled = true;
    process.off("beforeExit", stalled);
  }
}
