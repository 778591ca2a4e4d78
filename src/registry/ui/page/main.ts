/**
 * The page: repositories and tags on the left (repo-list.ts), the chosen tag's field as a grid,
 * and the selection with its commands. State lives in one object; every change goes through
 * select() (selection) or openImage() (what is shown), which redraw what depends on them.
 */
import type { Descriptor } from "../../../oci/descriptor.ts";
import type { ImageManifest } from "../../../oci/manifest.ts";
import { findReferenceFieldLayer } from "../../../field/reference-format.ts";
import { type El, type UiEvent, browser, byId, escapeHtml } from "./dom.ts";
import { WHOLE_FIELD_SUFFIX, getConfig, getManifest, manifestPath } from "./api.ts";
import { createCellFiles } from "./cell-files.ts";
import { type FieldView, type ViewCell, toFieldView } from "./field-view.ts";
import { type DrawnGrid, drawGrid } from "./grid.ts";
import { createRepoList } from "./repo-list.ts";
import { type Rect, formatBytes, parseSuffix, rectBetween, summarize } from "./selection.ts";

type Cell = { row: number; col: number };

const $ = byId;
const { location } = browser;

const state = {
  name: "",
  tag: "",
  platforms: [] as Descriptor[],
  platform: "",
  view: undefined as FieldView | undefined,
  grid: undefined as DrawnGrid | undefined,
  rects: [] as Rect[],
  anchor: { row: 0, col: 0 } as Cell,
  focus: { row: 0, col: 0 } as Cell,
  dragging: false,
};
const repoList = createRepoList();
const cellFiles = createCellFiles();

/** Render and selection times (ms), read by the end-to-end test. */
const timings = { renderMs: -1, selectMs: [] as number[] };
(globalThis as unknown as { __tdfsTimings: typeof timings }).__tdfsTimings = timings;

// ---- one image ----

async function openFromHash(): Promise<void> {
  const ref = decodeURI(location.hash.slice(1));
  const at = ref.lastIndexOf(":");
  if (at <= 0) return;
  state.name = ref.slice(0, at);
  state.tag = ref.slice(at + 1);
  state.platform = "";
  repoList.reveal(state.name, state.tag);
  await openImage();
}

// Bumped by each openImage: a load that finds it changed was overtaken (another tag, or another
// platform picked while the first one loaded) and must neither draw nor reset the picker.
let openSeq = 0;

async function openImage(): Promise<void> {
  const { name, tag } = state;
  const seq = ++openSeq;
  const overtaken = () => seq !== openSeq;
  $("image").hidden = false;
  $("image-h").textContent = `${name}:${tag}`;
  $("summary").textContent = "Loading…";
  $("grid-wrap").innerHTML = "";
  try {
    let fetched = await getManifest(name, tag);
    if (overtaken()) return;
    state.platforms = fetched.kind === "index" ? fetched.index.manifests.filter((d) => d.platform && d.platform.os !== "unknown") : [];
    drawPlatforms();
    let manifest = await platformManifest(fetched);
    // The registry serves the plain tag of a reference-format field flattened; a registry that
    // serves the field blob as stored still answers the whole-field partition, which lists sizes.
    if (!overtaken() && findReferenceFieldLayer(manifest) >= 0) {
      fetched = await getManifest(name, `${tag}${WHOLE_FIELD_SUFFIX}`);
      if (overtaken()) return;
      manifest = await platformManifest(fetched);
    }
    const config = await getConfig(name, manifest.config);
    if (overtaken()) return;
    showView(toFieldView(manifest, config));
  } catch (e) {
    if (overtaken()) return;
    $("summary").textContent = `Could not read ${name}:${tag}: ${(e as Error).message}`;
    state.view = undefined;
  }
}

async function platformManifest(fetched: Awaited<ReturnType<typeof getManifest>>): Promise<ImageManifest> {
  if (fetched.kind === "image") return fetched.manifest;
  const wanted = fetched.index.manifests.find((d) => d.platform && platformKey(d) === state.platform) ?? fetched.index.manifests.find((d) => d.platform?.os !== "unknown");
  if (!wanted) throw new Error("the index lists no platform image");
  state.platform = platformKey(wanted);
  $("platform").value = state.platform;
  const child = await getManifest(state.name, wanted.digest);
  if (child.kind !== "image") throw new Error("nested indexes are not shown");
  return child.manifest;
}

function platformKey(d: Descriptor): string {
  const p = d.platform;
  return p ? [p.os, p.architecture, p.variant].filter(Boolean).join("/") : "";
}

function drawPlatforms(): void {
  $("platform-row").hidden = state.platforms.length === 0;
  $("platform").innerHTML = state.platforms.map((d) => `<option>${escapeHtml(platformKey(d))}</option>`).join("");
}

function showView(view: FieldView): void {
  const started = performance.now();
  state.view = view;
  const allotmentBytes = view.cells.reduce((s, c) => s + c.size, 0);
  const base = `${view.baseLayers} base layer${view.baseLayers === 1 ? "" : "s"} (${formatBytes(view.baseBytes)})`;
  $("summary").textContent =
    view.cells.length === 0
      ? `No 2DFS field: ${base}.`
      : `${view.cells.length} allotments (${formatBytes(allotmentBytes)}) in rows 0..${view.rows.at(-1)}, columns 0..${view.cols.at(-1)}; ` +
        `on top of ${base}.${view.compacted ? " Rows and columns without allotments are not drawn." : ""}`;
  state.grid = view.cells.length > 0 ? drawGrid($("grid-wrap"), view, `Field of ${state.name}:${state.tag}`) : undefined;
  state.focus = state.anchor = { row: view.rows[0] ?? 0, col: view.cols[0] ?? 0 };
  $("selection").hidden = view.cells.length === 0;
  select([]);
  void $("grid-wrap").offsetHeight; // forces layout, so the time measured includes it
  timings.renderMs = performance.now() - started;
  timings.selectMs = [];
}

// ---- selection ----

/** Sets the selection and updates every view of it (grid, suffix, counts, commands). */
function select(rects: Rect[], fromSuffixBox = false): void {
  const started = performance.now();
  state.rects = rects;
  const view = state.view;
  if (!view) return;
  state.grid?.paint(rects);
  const s = summarize(view.cells, rects);
  if (!fromSuffixBox) {
    $("suffix").value = s.suffix;
    $("suffix-error").textContent = "";
  }
  $("sel-count").textContent = String(s.allotments);
  $("sel-bytes").textContent = `${formatBytes(s.bytes)} (${s.bytes.toLocaleString("en")} bytes)`;
  const ref = `${location.host}/${state.name}:${state.tag}${s.suffix}`;
  const platform = state.platform ? ` --platform ${state.platform}` : "";
  const ready = s.allotments > 0;
  $("docker-cmd").textContent = ready ? `docker pull${platform} ${ref}` : "select at least one allotment";
  $("tdfs-cmd").textContent = ready ? `2dfs pull${platform} ${ref} -o ./${state.name.split("/").at(-1)}-partition` : "";
  const link = $("manifest-link");
  link.hidden = !ready;
  link.href = manifestPath(state.name, `${state.tag}${s.suffix}`);
  link.download = `${state.name.replaceAll("/", "_")}_${state.tag}${s.suffix}.manifest.json`;
  for (const b of buttons("button[data-copy]")) b.disabled = !ready;
  $("tag-length").textContent = `${state.tag}${s.suffix}`.length > 128 ? "The tag with this suffix is over 128 characters: clients will refuse it; use fewer rectangles." : "";
  void $("selection").offsetHeight;
  timings.selectMs.push(performance.now() - started);
}

/** Replaces the rectangle being drawn (the last one) with the one from `from` to `to`. */
function drawRect(from: Cell, to: Cell): void {
  select([...state.rects.slice(0, -1), rectBetween(from, to)]);
}

function adding(e: UiEvent): boolean {
  return e.ctrlKey || e.metaKey || $("add-mode").checked;
}

function focusCell(at: Cell): void {
  const grid = state.grid;
  if (!grid) return;
  grid.element(state.focus.row, state.focus.col)?.setAttribute("tabindex", "-1");
  state.focus = at;
  const el = grid.element(at.row, at.col);
  el?.setAttribute("tabindex", "0");
  el?.focus();
  showCellInfo(at);
}

// The cell whose details #cell-info shows, and the pending request for its file names.
let infoCell: ViewCell | undefined;
let filesTimer: ReturnType<typeof setTimeout> | undefined;
/** A cell must stay under the pointer or focus this long before its layer is listed (a drag across the grid lists nothing). */
const FILES_DELAY_MS = 150;

function showCellInfo(at: Cell): void {
  const cell = state.view?.cells.find((c) => c.row === at.row && c.col === at.col);
  clearTimeout(filesTimer);
  infoCell = cell;
  if (!cell) {
    $("cell-info").textContent = `(${at.row}, ${at.col}): empty`;
    return;
  }
  writeCellInfo(cell, cell.files || "listing files…");
  if (!cell.files) filesTimer = setTimeout(() => void fillFiles(cell), FILES_DELAY_MS);
}

function writeCellInfo(cell: ViewCell, files: string): void {
  $("cell-info").textContent = `(${cell.row}, ${cell.col}): ${formatBytes(cell.size)}, ${files} — ${cell.digest}`;
}

// The history named no files for this cell: ask the server for its layer's, then show them.
async function fillFiles(cell: ViewCell): Promise<void> {
  const { name, view, grid } = state;
  try {
    const files = await cellFiles.text(name, cell.digest);
    if (state.view !== view) return;
    cell.files = files;
    grid?.describe(cell);
    if (infoCell === cell) writeCellInfo(cell, files);
  } catch (e) {
    if (state.view === view && infoCell === cell) writeCellInfo(cell, `file names not available (${(e as Error).message})`);
  }
}

function wireGrid(): void {
  const wrap = $("grid-wrap");
  wrap.addEventListener("mousedown", (e) => {
    const at = state.grid?.position(e.target);
    if (!at || e.button !== 0) return;
    e.preventDefault(); // no text selection while dragging
    state.dragging = true;
    state.anchor = at;
    focusCell(at);
    const one = rectBetween(at, at);
    select(adding(e) ? [...state.rects, one] : [one]);
  });
  wrap.addEventListener("mouseover", (e) => {
    const at = state.grid?.position(e.target);
    if (!at) return;
    if (!state.dragging) return showCellInfo(at);
    if (at.row === state.focus.row && at.col === state.focus.col) return;
    focusCell(at); // the keyboard carries on from where the drag ended
    drawRect(state.anchor, at);
  });
  browser.addEventListener("mouseup", () => {
    state.dragging = false;
  });
  wrap.addEventListener("focusin", (e) => {
    const at = state.grid?.position(e.target);
    if (!at) return;
    // Focus arriving from outside (Tab, a click) moves the keyboard's anchor there too.
    if (at.row !== state.focus.row || at.col !== state.focus.col) state.focus = state.anchor = at;
    showCellInfo(at);
  });
  wrap.addEventListener("keydown", (e) => {
    const grid = state.grid;
    if (!grid) return;
    const moves: Record<string, [number, number]> = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1], Home: [0, -1e9], End: [0, 1e9] };
    const move = moves[e.key];
    if (move) {
      e.preventDefault();
      const to = grid.step(state.focus, move[0], move[1]);
      if (e.shiftKey) {
        // Shift+arrows grow the rectangle spanned by the anchor and the focus; a first shifted
        // move starts it (added to the union when adding, else replacing the selection).
        const extending = state.rects.length > 0 && sameCorner(state.rects.at(-1)!, state.anchor, state.focus);
        focusCell(to);
        const rect = rectBetween(state.anchor, to);
        if (extending) select([...state.rects.slice(0, -1), rect]);
        else select(adding(e) ? [...state.rects, rect] : [rect]);
      } else {
        focusCell(to);
        state.anchor = to;
      }
    } else if (e.key === " " || e.key === "Enter") {
      e.preventDefault();
      state.anchor = state.focus;
      const one = rectBetween(state.focus, state.focus);
      select(adding(e) ? [...state.rects, one] : [one]);
    } else if (e.key === "Escape") {
      select([]);
    }
  });
}

// True when `rect` is the one spanned by the anchor and the focus (the rectangle being extended).
function sameCorner(rect: Rect, a: Cell, b: Cell): boolean {
  const r = rectBetween(a, b);
  return r.x1 === rect.x1 && r.y1 === rect.y1 && r.x2 === rect.x2 && r.y2 === rect.y2;
}

function wireControls(): void {
  $("platform").addEventListener("change", () => {
    state.platform = $("platform").value;
    void openImage();
  });
  $("suffix").addEventListener("input", () => {
    const text = $("suffix").value;
    try {
      const rects = parseSuffix(text);
      $("suffix-error").textContent = "";
      select(rects, true);
    } catch (e) {
      $("suffix-error").textContent = (e as Error).message;
    }
  });
  $("clear").addEventListener("click", () => select([]));
  for (const button of buttons("button[data-copy]")) {
    button.addEventListener("click", () => void copy(button));
  }
  browser.addEventListener("hashchange", () => void openFromHash());
}

async function copy(button: El): Promise<void> {
  const source = $(button.dataset.copy!);
  const text = source.textContent ?? "";
  try {
    if (!browser.navigator.clipboard) throw new Error("no clipboard API");
    await browser.navigator.clipboard.writeText(text);
  } catch {
    // No clipboard API outside secure contexts (plain http to a remote host): select the text instead.
    browser.getSelection()?.selectAllChildren(source);
    browser.document.execCommand("copy");
  }
  $("copy-status").textContent = `Copied: ${text}`;
}

function buttons(selector: string): El[] {
  return Array.from(browser.document.getElementById("image")?.querySelectorAll(selector) ?? []);
}

$("host").textContent = location.host;
wireGrid();
wireControls();
void repoList.load();
void openFromHash();
