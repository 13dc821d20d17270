/**
 * The report: results.json (everything), results.md (tables, targets, configuration) and one SVG
 * chart per scenario (bars per client; download rate over time when measured). The SVG is written
 * by hand: no chart dependency.
 * @module
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { ScenarioResult } from "./types.js";

export interface RunInfo {
  started: string;
  command: string;
  machine: Record<string, unknown>;
  sha1: Record<string, unknown>;
  notes: string[];
}

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const COLORS: Record<string, string> = {
  tessera: "#d9480f",
  libtorrent: "#1c7ed6",
  aria2: "#2f9e44",
  transmission: "#ae3ec9",
  webtorrent: "#f59f00",
};
const colorOf = (label: string, i: number) =>
  COLORS[label.split(/[ (]/)[0]!] ?? ["#495057", "#0c8599", "#e64980", "#5c940d"][i % 4]!;

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** Horizontal bars, one per client, then (optionally) a line chart of rate over time. */
export function scenarioSvg(s: ScenarioResult): string | undefined {
  if (!s.chart && !s.rates?.length) return undefined;
  const W = 760;
  const parts: string[] = [];
  let y = 10;
  parts.push(
    `<text x="10" y="${y + 14}" font-size="15" font-weight="bold">${esc(`(${s.id}) ${s.title}`)}</text>`,
  );
  y += 30;
  if (s.chart && s.chart.bars.length > 0) {
    const bars = s.chart.bars;
    const max = niceMax(Math.max(...bars.map((b) => (Number.isFinite(b.value) ? b.value : 0))));
    const x0 = 150;
    const bw = W - x0 - 80;
    const bh = 22;
    for (let i = 0; i < bars.length; i++) {
      const b = bars[i]!;
      const v = Number.isFinite(b.value) ? b.value : 0;
      const w = (v / max) * bw;
      parts.push(
        `<text x="${x0 - 8}" y="${y + 15}" font-size="12" text-anchor="end">${esc(b.label)}</text>`,
        `<rect x="${x0}" y="${y}" width="${w.toFixed(1)}" height="${bh}" fill="${colorOf(b.label, i)}"/>`,
        `<text x="${(x0 + w + 5).toFixed(1)}" y="${y + 15}" font-size="12">${Number.isFinite(b.value) ? `${b.value.toFixed(1)} ${esc(s.chart.unit)}` : "n/a"}</text>`,
      );
      y += bh + 6;
    }
    parts.push(
      `<line x1="${x0}" y1="${y}" x2="${x0 + bw}" y2="${y}" stroke="#868e96"/>`,
      `<text x="${x0}" y="${y + 14}" font-size="11">0</text>`,
      `<text x="${x0 + bw}" y="${y + 14}" font-size="11" text-anchor="end">${max} ${esc(s.chart.unit)}</text>`,
    );
    y += 30;
  }
  if (s.rates && s.rates.length > 0) {
    const H = 240;
    const x0 = 60;
    const pw = W - x0 - 20;
    const tMax = niceMax(Math.max(...s.rates.flatMap((r) => r.points.map((p) => p[0]))));
    const vMax = niceMax(Math.max(...s.rates.flatMap((r) => r.points.map((p) => p[1]))));
    parts.push(
      `<text x="10" y="${y + 12}" font-size="13">Download rate over time (MB/s, bytes on disk, 250 ms windows; the run closest to the median)</text>`,
    );
    y += 22;
    const top = y;
    for (let k = 0; k <= 4; k++) {
      const gy = top + H - (k / 4) * H;
      parts.push(
        `<line x1="${x0}" y1="${gy}" x2="${x0 + pw}" y2="${gy}" stroke="#e9ecef"/>`,
        `<text x="${x0 - 5}" y="${gy + 4}" font-size="11" text-anchor="end">${((k / 4) * vMax).toFixed(0)}</text>`,
      );
    }
    for (let k = 0; k <= 5; k++) {
      const gx = x0 + (k / 5) * pw;
      parts.push(
        `<text x="${gx}" y="${top + H + 14}" font-size="11" text-anchor="middle">${((k / 5) * tMax).toFixed(1)} s</text>`,
      );
    }
    s.rates.forEach((r, i) => {
      const pts = r.points
        .map(
          ([t, v]) =>
            `${(x0 + (t / tMax) * pw).toFixed(1)},${(top + H - (Math.max(0, v) / vMax) * H).toFixed(1)}`,
        )
        .join(" ");
      parts.push(
        `<polyline fill="none" stroke="${colorOf(r.label, i)}" stroke-width="1.8" points="${pts}"/>`,
        `<text x="${x0 + pw - 5}" y="${top + 14 + i * 15}" font-size="12" text-anchor="end" fill="${colorOf(r.label, i)}">${esc(r.label)}</text>`,
      );
    });
    parts.push(
      `<rect x="${x0}" y="${top}" width="${pw}" height="${H}" fill="none" stroke="#868e96"/>`,
    );
    y = top + H + 30;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join("\n")}\n</svg>\n`;
}

const cell = (v: string | number) => String(v).replace(/\|/g, "\\|").replace(/\n/g, " ");

export function markdown(info: RunInfo, results: ScenarioResult[]): string {
  const out: string[] = [];
  out.push(`# Tessera benchmark results — ${info.started}`, "");
  out.push(`Command: \`${info.command}\``, "");
  out.push("## Machine", "");
  for (const [k, v] of Object.entries(info.machine)) out.push(`- ${k}: ${cell(String(v))}`);
  out.push("", "## SHA-1 throughput of this machine (measured in this run)", "");
  for (const [k, v] of Object.entries(info.sha1))
    if (typeof v === "string") out.push(`- ${k}: ${cell(String(v))}`);
  if (info.notes.length) {
    out.push("", "## Notes", "");
    for (const n of info.notes) out.push(`- ${n}`);
  }
  out.push("", "## Targets", "", "| target | measured | status |", "|---|---|---|");
  for (const r of results) {
    for (const t of r.targets)
      out.push(`| ${cell(t.what)} | ${cell(t.value)} | ${t.met ? "met" : "**missed**"} |`);
  }
  for (const r of results) {
    out.push("", `## (${r.id}) ${r.title}`, "");
    out.push(`| ${r.table.columns.map(cell).join(" | ")} |`);
    out.push(`|${r.table.columns.map(() => "---").join("|")}|`);
    for (const row of r.table.rows) out.push(`| ${row.map(cell).join(" | ")} |`);
    if (r.chart || r.rates?.length) out.push("", `![(${r.id})](chart-${r.id}.svg)`);
    if (r.notes.length) {
      out.push("");
      for (const n of r.notes) out.push(`- ${n}`);
    }
    out.push("", "<details><summary>configuration</summary>", "");
    for (const [k, v] of Object.entries(r.config)) {
      if (v && typeof v === "object") {
        out.push(`- ${k}:`);
        for (const [k2, v2] of Object.entries(v)) out.push(`  - ${k2}: ${cell(String(v2))}`);
      } else out.push(`- ${k}: ${cell(String(v))}`);
    }
    out.push("", "</details>");
  }
  out.push("");
  return out.join("\n");
}

/** Writes results.json, results.md and chart-<id>.svg into `dir`. */
export async function writeReport(dir: string, info: RunInfo, results: ScenarioResult[]) {
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, "results.json"),
    `${JSON.stringify({ ...info, results }, null, 1)}\n`,
  );
  await writeFile(path.join(dir, "results.md"), markdown(info, results));
  for (const r of results) {
    const svg = scenarioSvg(r);
    if (svg) await writeFile(path.join(dir, `chart-${r.id}.svg`), svg);
  }
}
