/**
 * The repository list on the left: names from the catalog (page by page, drawn as they come),
 * each a button that opens it; a repository's tags are fetched only when it is opened, when a
 * deep link names it, or when a narrow search matches its name (repo-filter.ts). Each tag is a
 * `#name:tag` link; the page opens images from the hash.
 */
import { listRepositories, listTags } from "./api.ts";
import { browser, byId, escapeHtml } from "./dom.ts";
import { filterRepositories, searchTagLoads } from "./repo-filter.ts";

/** The list's controls. */
export interface RepoList {
  /** Reads the catalog, drawing after each page. */
  load(): Promise<void>;
  /** Opens `name` (loading its tags) and marks `name:tag` as the image shown. */
  reveal(name: string, tag: string): void;
}

/** How long typing must pause before a search loads tags (no request per keystroke). */
const SEARCH_DELAY_MS = 250;

/** Wires the list into #repos, #repos-status and #search. */
export function createRepoList(): RepoList {
  const host = byId("repos");
  const status = byId("repos-status");
  const search = byId("search");
  const repos: string[] = [];
  const tags = new Map<string, string[]>();
  const failed = new Map<string, string>();
  const loading = new Set<string>();
  // Opened by the user or a deep link; `closed` holds what the user shut while a search opened it.
  const expanded = new Set<string>();
  const closed = new Set<string>();
  let searchLoads: string[] = [];
  let current = { name: "", tag: "" };
  let catalogDone = false;
  let searchTimer: ReturnType<typeof setTimeout> | undefined;

  const loadTags = (name: string) => {
    if (tags.has(name) || loading.has(name)) return;
    loading.add(name);
    failed.delete(name);
    listTags(name)
      .then((t) => void tags.set(name, t))
      .catch((e: Error) => void failed.set(name, e.message))
      .finally(() => {
        loading.delete(name);
        draw();
      });
  };

  const draw = () => {
    const opened = new Set([...expanded, ...searchLoads]);
    const { entries, hidden } = filterRepositories(repos, tags, search.value, opened, closed);
    const parts: string[] = [];
    for (const e of entries) {
      const name = escapeHtml(e.name);
      parts.push(`<li><button type="button" class="repo" aria-expanded="${e.open}" data-repo="${name}">${name}</button>`);
      if (e.open) parts.push(`<ul>${tagItems(e.name, e.tags)}</ul>`);
      parts.push("</li>");
    }
    const focused = browser.document.activeElement?.dataset.repo;
    host.innerHTML = parts.join("");
    // Redrawing replaces the buttons: keep the keyboard on the one it was on.
    if (focused !== undefined) {
      Array.from(host.querySelectorAll("button[data-repo]")).find((b) => b.dataset.repo === focused)?.focus();
    }
    const count = `${repos.length} repositor${repos.length === 1 ? "y" : "ies"}${catalogDone ? "" : " so far…"}`;
    status.textContent =
      catalogDone && repos.length === 0 ? "No repositories yet: push an image." : hidden > 0 ? `${count}; ${hidden} more match: narrow the search.` : count;
  };

  const tagItems = (name: string, shown: string[] | undefined) => {
    if (!shown) {
      const error = failed.get(name);
      return `<li>${error ? `Could not list tags: ${escapeHtml(error)}` : "Loading tags…"}</li>`;
    }
    if (shown.length === 0) return `<li>${tags.get(name)?.length ? "(no matching tags)" : "(no tags)"}</li>`;
    return shown
      .map((t) => {
        const here = name === current.name && t === current.tag ? ' aria-current="page"' : "";
        return `<li><a href="#${encodeURI(`${name}:${t}`)}"${here}>${escapeHtml(t)}</a></li>`;
      })
      .join("");
  };

  host.addEventListener("click", (e) => {
    const button = e.target?.closest("button[data-repo]");
    const name = button?.dataset.repo;
    if (!button || name === undefined) return;
    const open = button.getAttribute("aria-expanded") === "true";
    if (open) {
      expanded.delete(name);
      closed.add(name);
      draw();
    } else {
      expanded.add(name);
      closed.delete(name);
      loadTags(name);
      draw();
    }
  });

  search.addEventListener("input", () => {
    closed.clear();
    draw();
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      searchLoads = searchTagLoads(repos, search.value);
      for (const name of searchLoads) loadTags(name);
      draw();
    }, SEARCH_DELAY_MS);
  });

  return {
    async load() {
      try {
        await listRepositories((names) => {
          repos.push(...names);
          draw();
        });
        catalogDone = true;
        draw();
      } catch (e) {
        status.textContent = `Could not list repositories: ${(e as Error).message}`;
      }
    },
    reveal(name, tag) {
      current = { name, tag };
      expanded.add(name);
      closed.delete(name);
      loadTags(name);
      draw();
    },
  };
}
