/**
 * Which repositories the list shows for a search, which are open, and which tags a search may
 * load. Pure. Tags are known only for repositories whose tags were loaded (opened by the user,
 * or matched by a narrow search): the page never lists every repository's tags.
 */

/** A search matching at most this many repository names loads their tags; a wider one loads none. */
export const SEARCH_LOAD_LIMIT = 8;

/** The most repositories drawn at once; the rest are counted, and a search narrows them. */
export const MAX_SHOWN_REPOSITORIES = 500;

/** One repository as the list draws it. */
export interface RepoEntry {
  name: string;
  open: boolean;
  /** The tags to show when open (the search applied), or undefined when they are not loaded. */
  tags?: string[];
}

/** The repositories whose names hold `query`, when there are few enough to load their tags; else none. */
export function searchTagLoads(repos: readonly string[], query: string): string[] {
  const q = query.trim().toLowerCase();
  if (q === "") return [];
  const hits: string[] = [];
  for (const name of repos) {
    if (!name.toLowerCase().includes(q)) continue;
    if (hits.length === SEARCH_LOAD_LIMIT) return [];
    hits.push(name);
  }
  return hits;
}

/**
 * The entries drawn for `query`: repositories whose name holds it (all their loaded tags), and
 * repositories with a loaded tag that holds it (those tags, open). `opened` are the repositories
 * open whatever the search (the user's, and the search's own loads); `closed` overrides both.
 */
export function filterRepositories(
  repos: readonly string[],
  tags: ReadonlyMap<string, readonly string[]>,
  query: string,
  opened: ReadonlySet<string>,
  closed: ReadonlySet<string> = new Set(),
): { entries: RepoEntry[]; hidden: number } {
  const q = query.trim().toLowerCase();
  const entries: RepoEntry[] = [];
  let hidden = 0;
  for (const name of repos) {
    const loaded = tags.get(name);
    const nameHit = name.toLowerCase().includes(q);
    const tagHits = q === "" || nameHit ? loaded : loaded?.filter((t) => t.toLowerCase().includes(q));
    if (!nameHit && !tagHits?.length) continue;
    if (entries.length === MAX_SHOWN_REPOSITORIES) {
      hidden++;
      continue;
    }
    const open = !closed.has(name) && (opened.has(name) || (!nameHit && tagHits !== undefined));
    entries.push({ name, open, ...(tagHits ? { tags: [...tagHits] } : {}) });
  }
  return { entries, hidden };
}
