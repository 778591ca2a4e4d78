/**
 * The last check of a pull, on the tree DIR will hold once the staged tree is merged into it:
 * no symlink may lead outside DIR. Each link is resolved the way the kernel would, from the
 * folder it really sits in, following the links already in that final tree (so `b -> a/a/..`
 * is caught when `a -> .` makes it climb out, whichever layer or earlier pull made `a`); a
 * missing component is taken by its name. Absolute links are the exception in a root filesystem:
 * they are stored verbatim for the container (where they resolve inside it) and 2dfs never
 * follows them; met inside another link's path they restart at DIR, as in the container.
 *
 * Checked: every link this pull creates, and, when merging into a DIR with content, every
 * relative link already in DIR that did not lead outside before this pull and would after it
 * (new links, or a folder put where one of its links was, can do that). Links of DIR that
 * already led outside (the user's own) are not this pull's business. Synchronous metadata calls.
 */
import { readlinkSync } from "node:fs";
import { lstatOrNone, readdirOrNone } from "./fs-probe.ts";
import { join } from "node:path";
import { UnsafeEntryError } from "../errors.ts";
import type { CreatedLink } from "./safe-extract.ts";

const MAX_SYMLINK_HOPS = 40;

/** One path of the final tree: what is there, and which of the two trees it comes from. */
interface TreeNode {
  kind: "folder" | "link" | "file" | "missing";
  /** The link's target. */
  target?: string;
  /** Children come from the staged tree, from DIR, or both (a staged folder over a folder of DIR). */
  inStaged: boolean;
  inDir: boolean;
}

/** A tree seen through lstat: the staged tree laid over DIR as the merge will lay it (either may be absent). */
interface TreeView {
  staged?: string;
  dir?: string;
  /** Nodes already looked up, by path: nothing changes while the check runs. */
  seen: Map<string, TreeNode>;
}

/** Refuses (UnsafeEntryError) when a link of the final tree would lead outside it; see the file comment. */
export function checkFinalLinks(opts: { staged: string; mergeInto?: string; format: "files" | "rootfs"; created: CreatedLink[] }): void {
  // In a fresh tree only a new link can lead out. Merging can also turn an older link of DIR
  // outward without adding one, by putting a folder where a link was: then DIR is walked.
  if (opts.created.length === 0 && opts.mergeInto === undefined) return;
  const merged: TreeView = { staged: opts.staged, dir: opts.mergeInto, seen: new Map() };
  for (const link of opts.created) {
    const parts = link.rel.split("/");
    const now = lookup(merged, parts);
    if (now.kind !== "link" || now.target !== link.target || !now.inStaged) continue; // replaced by a later layer
    if (resolveLink(merged, parts, link.target, opts.format) === "outside") {
      throw new UnsafeEntryError(`${link.origin} -> "${link.target}" leads outside the target folder through the links around it`);
    }
  }
  if (opts.mergeInto === undefined) return;
  const before: TreeView = { dir: opts.mergeInto, seen: new Map() };
  for (const { parts, node } of linksOf(merged)) {
    const target = node.target!;
    if (node.inStaged || target.startsWith("/")) continue; // staged links were checked above
    if (resolveLink(merged, parts, target, opts.format) !== "outside") continue;
    if (resolveLink(before, parts, target, opts.format) === "outside") continue; // it already led outside
    throw new UnsafeEntryError(`the symlink "${parts.join("/")}" -> "${target}" already in ${opts.mergeInto} would lead outside it after this pull`);
  }
}

/** Where a link leads: "inside" the tree, "outside" it, or round a "loop" (the kernel gives up after 40 links too: harmless). */
function resolveLink(view: TreeView, linkParts: string[], target: string, format: "files" | "rootfs"): "inside" | "outside" | "loop" {
  if (target.startsWith("/")) {
    if (format === "rootfs") return "inside"; // verbatim, for the container
    return "outside";
  }
  const done = linkParts.slice(0, -1);
  let pending = split(target);
  let hops = 0;
  let byName = false; // past a missing component (or a file) the rest is taken by its names
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "..") {
      if (done.length === 0) return "outside";
      done.pop();
      continue;
    }
    if (!byName) {
      const node = lookup(view, [...done, part]);
      if (node.kind === "link") {
        if (++hops > MAX_SYMLINK_HOPS) return "loop";
        const next = node.target!;
        if (next.startsWith("/")) {
          if (format === "files") return "outside";
          done.length = 0;
        }
        pending = [...split(next), ...pending];
        continue;
      }
      if (node.kind !== "folder") byName = true;
    }
    done.push(part);
  }
  return "inside";
}

function split(path: string): string[] {
  return path.split("/").filter((p) => p !== "" && p !== ".");
}

const ROOT: TreeNode = { kind: "folder", inStaged: true, inDir: true };

function lookup(view: TreeView, parts: string[]): TreeNode {
  if (parts.length === 0) return { ...ROOT, inStaged: view.staged !== undefined, inDir: view.dir !== undefined };
  const key = parts.join("/");
  let node = view.seen.get(key);
  if (node === undefined) {
    const parent = lookup(view, parts.slice(0, -1));
    node = parent.kind === "folder" ? child(view, parent, parts) : { kind: "missing", inStaged: false, inDir: false };
    view.seen.set(key, node);
  }
  return node;
}

/** The node at `parts`, given its parent's: a staged entry wins; folders of both trees merge. */
function child(view: TreeView, parent: TreeNode, parts: string[]): TreeNode {
  const s = parent.inStaged && view.staged !== undefined ? lstatOrNone(join(view.staged, ...parts)) : undefined;
  const d = parent.inDir && view.dir !== undefined ? lstatOrNone(join(view.dir, ...parts)) : undefined;
  const from = s ?? d;
  if (!from) return { kind: "missing", inStaged: false, inDir: false };
  const kind = from.isDirectory() ? "folder" : from.isSymbolicLink() ? "link" : "file";
  const path = join((s ? view.staged : view.dir)!, ...parts);
  return {
    kind,
    ...(kind === "link" ? { target: readlinkSync(path) } : {}),
    inStaged: s !== undefined,
    inDir: s ? s.isDirectory() && d?.isDirectory() === true : true,
  };
}

/** Every link of the tree, walked without following any (through `lookup`, so later lookups of these paths cost nothing). */
function* linksOf(view: TreeView): Generator<{ parts: string[]; node: TreeNode }> {
  const stack: string[][] = [[]];
  while (stack.length > 0) {
    const parts = stack.pop()!;
    const node = lookup(view, parts);
    const names = new Set<string>();
    if (node.inStaged && view.staged !== undefined) for (const n of readdirOrNone(join(view.staged, ...parts))) names.add(n);
    if (node.inDir && view.dir !== undefined) for (const n of readdirOrNone(join(view.dir, ...parts))) names.add(n);
    for (const name of names) {
      const childParts = [...parts, name];
      const c = lookup(view, childParts);
      if (c.kind === "link") yield { parts: childParts, node: c };
      else if (c.kind === "folder") stack.push(childParts);
    }
  }
}
