/** Minimal SVG charts for bench results: grouped bars or lines, labelled axes, a legend. No dependencies. */

/** One plotted series. */
export interface Series {
  name: string;
  values: number[];
}

/** A chart: categories along x, one bar (or point) per series per category. */
export interface Chart {
  title: string;
  xLabel: string;
  yLabel: string;
  categories: string[];
  series: Series[];
  kind?: "bars" | "lines";
  logY?: boolean;
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];
const W = 720;
const H = 420;
const M = { top: 40, right: 170, bottom: 60, left: 70 };

/** Renders a chart as a standalone SVG document. */
export function renderChart(chart: Chart): string {
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const all = chart.series.flatMap((s) => s.values).filter((v) => Number.isFinite(v) && v > 0);
  const max = Math.max(...all, 1e-9);
  const min = chart.logY ? Math.min(...all) : 0;
  const y = (v: number) => {
    if (!chart.logY) return M.top + plotH - (v / niceMax(max)) * plotH;
    const lo = Math.floor(Math.log10(min));
    const hi = Math.ceil(Math.log10(max));
    return M.top + plotH - ((Math.log10(v) - lo) / Math.max(1, hi - lo)) * plotH;
  };
  const ticks = chart.logY ? logTicks(min, max) : linearTicks(max);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2 - M.right / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(chart.title)}</text>`);
  for (const t of ticks) {
    out.push(`<line x1="${M.left}" x2="${M.left + plotW}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/>`);
    out.push(`<text x="${M.left - 6}" y="${y(t) + 4}" text-anchor="end">${fmt(t)}</text>`);
  }
  out.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + plotH}" stroke="black"/>`);
  out.push(`<line x1="${M.left}" x2="${M.left + plotW}" y1="${M.top + plotH}" y2="${M.top + plotH}" stroke="black"/>`);
  const groupW = plotW / chart.categories.length;
  chart.categories.forEach((c, i) => {
    out.push(`<text x="${M.left + groupW * (i + 0.5)}" y="${M.top + plotH + 18}" text-anchor="middle">${esc(c)}</text>`);
  });
  const n = chart.series.length;
  chart.series.forEach((s, si) => {
    const color = COLORS[si % COLORS.length];
    if ((chart.kind ?? "bars") === "bars") {
      const barW = (groupW * 0.8) / n;
      s.values.forEach((v, i) => {
        if (!Number.isFinite(v) || v <= 0) return;
        const x = M.left + groupW * i + groupW * 0.1 + barW * si;
        out.push(`<rect x="${x}" y="${y(v)}" width="${barW - 1}" height="${M.top + plotH - y(v)}" fill="${color}"><title>${esc(s.name)}: ${fmt(v)}</title></rect>`);
      });
    } else {
      const pts = s.values.map((v, i) => (Number.isFinite(v) && v > 0 ? `${M.left + groupW * (i + 0.5)},${y(v)}` : "")).filter(Boolean);
      out.push(`<polyline points="${pts.join(" ")}" fill="none" stroke="${color}" stroke-width="2"/>`);
      for (const p of pts) out.push(`<circle cx="${p.split(",")[0]}" cy="${p.split(",")[1]}" r="3" fill="${color}"/>`);
    }
    out.push(`<rect x="${W - M.right + 15}" y="${M.top + si * 20}" width="12" height="12" fill="${color}"/>`);
    out.push(`<text x="${W - M.right + 32}" y="${M.top + si * 20 + 10}">${esc(s.name)}</text>`);
  });
  out.push(`<text x="${M.left + plotW / 2}" y="${H - 15}" text-anchor="middle">${esc(chart.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(chart.yLabel)}${chart.logY ? " (log)" : ""}</text>`);
  out.push("</svg>");
  return out.join("\n");
}

function niceMax(max: number): number {
  const p = 10 ** Math.floor(Math.log10(max));
  return Math.ceil(max / p) * p;
}

function linearTicks(max: number): number[] {
  const top = niceMax(max);
  return Array.from({ length: 6 }, (_, i) => (top / 5) * i);
}

function logTicks(min: number, max: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) out.push(10 ** e);
  return out;
}

function fmt(v: number): string {
  if (v === 0) return "0";
  if (v >= 100) return v.toFixed(0);
  if (v >= 1) return v.toFixed(1).replace(/\.0$/, "");
  return v.toPrecision(2);
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
