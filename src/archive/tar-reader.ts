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

/** Starts parsing `stream`. An error of the source stream (truncated, corrupt) fails the entry loop. */
export function parseTarStream(stream: ReadableStream<Uint8Array>): TarParse {
  const extract = createTarExtract();
  // Feed the parser by hand so back-pressure holds and a source error reaches the consumer.
  const finished = (async () => {
    try {
      for await (const chunk of stream) {
        if (!extract.write(chunk)) await new Promise<void>((resolve) => extract.once("drain", () => resolve()));
      }
      (extract as unknown as { end(): void }).end();
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
