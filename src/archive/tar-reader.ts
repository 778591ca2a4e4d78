/** Streaming tar parsing (tar-stream lives here only): a web stream of tar bytes in, entries out. */
import { type Extract, extract as createTarExtract } from "tar-stream";

/** One entry: its header, and its body as a Node readable (iterate it, or `resume()` to skip it). */
export type TarStreamEntry = Extract extends AsyncIterable<infer S> ? S : never;

/** An open tar parse: iterate `entries`; `finished` settles when the input is consumed; `abort` stops both. */
export interface TarParse {
  entries: AsyncIterable<TarStreamEntry>;
  finished: Promise<void>;
  abort(error?: Error): void;
}

/** Starts parsing `stream`. An error of the source stream (truncated, corrupt) fails the entry loop; a parse error stops the reading of the source. */
export function parseTarStream(stream: ReadableStream<Uint8Array>): TarParse {
  const extract = createTarExtract();
  // Feed the parser by hand so back-pressure holds and a source error reaches the consumer.
  const finished = (async () => {
    try {
      for await (const chunk of stream) {
        // A parser that failed or was aborted never drains: stop reading (leaving the loop cancels the source).
        if (extract.destroyed) return;
        if (!extract.write(chunk)) {
          await new Promise<void>((resolve) => {
            const done = (): void => {
              extract.off("drain", done);
              extract.off("close", done);
              resolve();
            };
            extract.on("drain", done);
            extract.on("close", done);
          });
        }
      }
      if (!extract.destroyed) (extract as unknown as { end(): void }).end();
    } catch (error) {
      extract.destroy(error as Error);
    }
  })();
  return {
    entries: extract,
    finished,
    abort(error) {
      extract.destroy(error);
      stream.cancel().catch(() => {});
    },
  };
}
