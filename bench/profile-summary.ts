/**
 * Summarise V8 .cpuprofile files (from `npm run bench -- --cpu-prof DIR`): self time per function
 * and per category, for each profile (main thread and each worker thread write their own).
 *
 *   node dist/bench/profile-summary.js DIR|FILE... [--top N]
 * @module
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const ti = args.indexOf("--top");
const top = ti >= 0 ? Number(args[ti + 1]) : 25;
const inputs = args.filter((a, i) => !a.startsWith("--") && (ti < 0 || i !== ti + 1));
const files = inputs.flatMap((p) =>
  statSync(p).isDirectory()
    ? readdirSync(p)
        .filter((f) => f.endsWith(".cpuprofile"))
        .map((f) => path.join(p, f))
    : [p],
);

function category(url: string, fn: string): string {
  if (fn === "(garbage collector)") return "GC";
  if (fn === "(idle)" || fn === "(program)" || fn === "(root)") return fn;
  if (url.includes("/src/")) return `tessera ${url.slice(url.indexOf("/src/") + 5).split("/")[0]}`;
  if (url.startsWith("node:")) return url.split("/")[0]!.replace(/^node:internal/, "node");
  if (url === "") return "native";
  return "other";
}

for (const file of files) {
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const perFn = new Map<string, number>();
  const perCat = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    const key = `${functionName || "(anonymous)"} ${url ? `${url.replace(/^.*\/(src|dist)\//, "$1/")}:${lineNumber + 1}` : ""}`;
    perFn.set(key, (perFn.get(key) ?? 0) + us);
    const c = category(url, functionName);
    perCat.set(c, (perCat.get(c) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
  const busy = total - (perCat.get("(idle)") ?? 0);
  console.log(
    `\n## ${path.basename(file)}: ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s not idle`,
  );
  console.log("by category:");
  for (const [k, v] of [...perCat].sort((a, b) => b[1] - a[1]).slice(0, 12))
    console.log(`  ${pct(v)} ${k}`);
  console.log("by function (self time):");
  for (const [k, v] of [...perFn].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`  ${pct(v)} ${(v / 1000).toFixed(0).padStart(6)} ms ${k}`);
}
