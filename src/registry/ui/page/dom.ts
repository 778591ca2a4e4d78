/**
 * The few browser APIs the page uses, typed here. The project compiles against Bun's types, and
 * TypeScript's DOM library clashes with them program-wide (fetch bodies, stream iterators), so
 * the page reaches the browser through this one typed view of globalThis instead. Also the
 * escaping of the text the page writes into HTML.
 */

/** An element, with the members of the kinds the page touches (inputs, selects, links, buttons). */
export interface El {
  textContent: string | null;
  innerHTML: string;
  hidden: boolean;
  value: string;
  checked: boolean;
  disabled: boolean;
  href: string;
  download: string;
  readonly dataset: Record<string, string | undefined>;
  readonly offsetHeight: number;
  readonly classList: { toggle(name: string, force?: boolean): boolean; contains(name: string): boolean };
  getAttribute(name: string): string | null;
  setAttribute(name: string, value: string): void;
  focus(): void;
  closest(selector: string): El | null;
  querySelector(selector: string): El | null;
  querySelectorAll(selector: string): ArrayLike<El>;
  addEventListener(type: string, listener: (e: UiEvent) => void): void;
}

/** Mouse, keyboard and focus events, as far as the page reads them. */
export interface UiEvent {
  readonly target: El | null;
  readonly key: string;
  readonly button: number;
  readonly shiftKey: boolean;
  readonly ctrlKey: boolean;
  readonly metaKey: boolean;
  preventDefault(): void;
}

/** The browser's globals the page uses. */
export interface Browser {
  document: { getElementById(id: string): El | null; execCommand(command: string): boolean; readonly activeElement: El | null };
  location: { host: string; hash: string };
  navigator: { clipboard?: { writeText(text: string): Promise<void> } };
  getSelection(): { selectAllChildren(el: El): void } | null;
  addEventListener(type: string, listener: (e: UiEvent) => void): void;
}

/** The browser's globals (only meaningful in the page). */
export const browser = globalThis as unknown as Browser;

/** The element with this id; the page's HTML has every id the script names. */
export function byId(id: string): El {
  const el = browser.document.getElementById(id);
  if (!el) throw new Error(`the page has no element #${id}`);
  return el;
}

/** `text` safe inside HTML text and quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
