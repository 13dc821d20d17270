/**
 * Tessera benchmark harness: loopback throughput, CPU and memory side by side with libtorrent,
 * aria2, Transmission and WebTorrent, plus hashing, decoding and start-up. See bench/README.md.
 *
 *   npm run bench -- [--scenario a,b,c,d,e,f,g,h,startup] [--runs N] [--size 1GiB]
 *                    [--big-size 4GiB] [--clients tessera,libtorrent,...] [--out DIR]
 *                    [--quick] [--fresh-payload] [--keep]
 *
 * Writes results.json, results.md and chart-<scenario>.svg to --out (default
 * bench/results/<timestamp>/) and, without --out, copies them to bench/results/latest/.
 * @module
 */
import { cp, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { REPO_ROOT } from "../test/interop/clients/index.js";
import { DOWNLOADERS, type Downloader, tesseraDownloader } from "./clients/downloaders.js";
import { type RunInfo, writeReport } from "./lib/report.js";
import type { ScenarioResult } from "./lib/types.js";
import { formatSize, log, MIB, parseSize, run, TESSERA_ALTS } from "./lib/util.js";
import { downloadScenario } from "./scenarios/download.js";
import {
  createScenario,
  decodeScenario,
  recheckScenario,
  startupScenario,
} from "./scenarios/local.js";
import { seedScenario, swarmScenario } from "./scenarios/seed.js";

const ALL = ["a", "b", "c", "d", "e", "f", "g", "h", "startup"];

const { values } = parseArgs({
  options: {
    scenario: { type: "string" },
    runs: { type: "string" },
    size: { type: "string" },
    "big-size": { type: "string" },
    clients: { type: "string" },
    out: { type: "string" },
    quick: { type: "boolean" },
    "fresh-payload": { type: "boolean" },
    keep: { type: "boolean" },
    "cpu-prof": { type: "string" },
    "tessera-alt": { type: "string", multiple: true },
    "tessera-alt-env": { type: "string", multiple: true },
    help: { type: "boolean", short: "h" },
  },
});

if (values.help) {
  process.stdout.write(`Usage: npm run bench -- [options]
  --scenario LIST   scenarios to run (default: all = ${ALL.join(",")}; --quick: a,d,f,g,h,startup)
  --runs N          rounds per scenario (default 3; --quick 2)
  --size SIZE       payload of (a), (b), (d), (e) (default 1GiB; --quick 256MiB; (e) uses a quarter)
  --big-size SIZE   payload of (c), (f), (g) (default 4GiB; --quick 1GiB)
  --clients LIST    downloaders for (a) (default: tessera,libtorrent,aria2,transmission,webtorrent);
                    (b) and (c) use tessera,libtorrent unless given
  --out DIR         where to write results (default bench/results/<timestamp>)
  --fresh-payload   remake the cached payload files
  --keep            keep the work dir (client logs)
  --tessera-alt BIN also measure another Tessera build (e.g. a scratch copy with a change to
                    src/) as client "tessera-alt" (repeatable: tessera-alt2, ...): a downloader
                    in (a)-(c), a seed in (d), a row in (f) and (g)
  --tessera-alt-env K=V  environment for the tessera-alt processes (repeatable)
  --cpu-prof DIR    Tessera processes write V8 CPU profiles (.cpuprofile) into DIR
                    (summarise with: node dist/bench/profile-summary.js DIR)
`);
  process.exit(0);
}

const quick = values.quick ?? false;
const scenarios = (values.scenario ?? (quick ? "a,d,f,g,h,startup" : ALL.join(",")))
  .split(",")
  .map((s) => s.trim())
  .filter(Boolean);
for (const s of scenarios) if (!ALL.includes(s)) throw new Error(`unknown scenario ${s}`);
const runs = Number(values.runs ?? (quick ? 2 : 3));
const size = parseSize(values.size ?? (quick ? "256MiB" : "1GiB"));
const bigSize = parseSize(values["big-size"] ?? (quick ? "1GiB" : "4GiB"));
const pickClients = (list: string): Downloader[] =>
  list.split(",").map((n) => {
    const d = DOWNLOADERS[n.trim()];
    if (!d) throw new Error(`unknown client ${n} (known: ${Object.keys(DOWNLOADERS).join(", ")})`);
    return d;
  });
(values["tessera-alt"] ?? []).forEach((bin, i) => {
  const name = `tessera-alt${i ? i + 1 : ""}`;
  const env = Object.fromEntries(
    (values["tessera-alt-env"] ?? []).map((kv) => [
      kv.slice(0, kv.indexOf("=")),
      kv.slice(kv.indexOf("=") + 1),
    ]),
  );
  DOWNLOADERS[name] = tesseraDownloader(name, path.resolve(bin), env);
  TESSERA_ALTS.push({ name, bin: path.resolve(bin), env });
});
const allClients = pickClients(values.clients ?? Object.keys(DOWNLOADERS).join(","));
const pairClients = pickClients(
  values.clients ??
    [
      "tessera",
      "libtorrent",
      ...Object.keys(DOWNLOADERS).filter((n) => n.startsWith("tessera-alt")),
    ].join(","),
);
const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
const outDir = path.resolve(values.out ?? path.join(REPO_ROOT, "bench", "results", stamp));
const freshPayload = values["fresh-payload"] ?? false;
if (values["cpu-prof"]) process.env.TESSERA_BENCH_CPU_PROF = path.resolve(values["cpu-prof"]);

async function sha1Throughput(): Promise<Record<string, unknown>> {
  const parse = (out: string) => {
    const m = /^sha1\s+([\d.]+)k/m.exec(out);
    return m ? (Number(m[1]) * 1000) / 1e6 : Number.NaN;
  };
  const args = ["speed", "-evp", "sha1", "-bytes", String(MIB), "-seconds", "2"];
  const one = parse((await run("openssl", args)).stdout);
  const all = parse(
    (await run("openssl", [...args, "-multi", String(os.availableParallelism())])).stdout,
  );
  return {
    "openssl speed -evp sha1, 1 MiB blocks, one core": `${one.toFixed(0)} MB/s`,
    [`openssl speed -evp sha1 -multi ${os.availableParallelism()} (all cores)`]: `${all.toFixed(0)} MB/s`,
    oneCoreMBs: one,
    allCoresMBs: all,
  };
}

async function machineInfo(): Promise<Record<string, unknown>> {
  const cpus = os.cpus();
  let mem = "";
  try {
    const m = /MemTotal:\s+(\d+)/.exec(await readFile("/proc/meminfo", "utf8"));
    mem = m ? `${(Number(m[1]) / 1024 / 1024).toFixed(1)} GiB` : "";
  } catch {
    // no /proc
  }
  return {
    cpu: `${cpus[0]?.model ?? "?"} × ${cpus.length}`,
    memory: mem,
    kernel: os.release(),
    node: process.version,
    "load average at start": os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(" "),
  };
}

async function main() {
  const workDir = await mkdtemp(path.join(os.tmpdir(), "tessera-bench-"));
  log(
    `scenarios ${scenarios.join(",")}, ${runs} runs, size ${formatSize(size)}, big ${formatSize(bigSize)}; work dir ${workDir}`,
  );
  const info: RunInfo = {
    started: new Date().toISOString(),
    command: `npm run bench -- ${process.argv.slice(2).join(" ")}`.trim(),
    machine: await machineInfo(),
    sha1: await sha1Throughput(),
    notes: [
      "MB/s = 10^6 bytes/s, from the client process's spawn to its own signal of a verified, complete download (Tessera: the --json `done` event; libtorrent: torrent is seeding; aria2: --on-bt-download-complete hook; Transmission: its -f completion script; WebTorrent: the torrent's `done` event).",
      "CPU s = utime+stime of the process (all threads, waited-for children) from /proc/PID/stat at that moment; peak RSS = VmHWM; peak anon = largest RssAnon sampled every 50 ms. libtorrent memory-maps files, so its RSS counts page-cache pages of the payload: compare anonymous memory.",
      "Page cache is warm (the seed's file stays cached; caches are not dropped). Downloads go to a fresh dir under the temp dir, deleted (and `sync`) after every run.",
      "Every client: loopback only, TCP only, DHT/LSD/UPnP/NAT-PMP/PEX off, no rate limits (per-client configuration below each table).",
      "The two cores are shared by seed, downloader and the harness; other work on the machine adds noise (see the load average). Compare clients within one run, as ratios.",
    ],
  };
  log(`SHA-1: ${info.sha1.oneCoreMBs} MB/s one core, ${info.sha1.allCoresMBs} MB/s all cores`);
  const results: ScenarioResult[] = [];
  const save = async () => {
    await writeReport(outDir, info, results);
    // An explicit --out is a scratch run: the committed reference run stays as it is.
    if (values.out !== undefined) return;
    const latest = path.join(REPO_ROOT, "bench", "results", "latest");
    await rm(latest, { recursive: true, force: true });
    await cp(outDir, latest, { recursive: true });
  };
  try {
    for (const s of scenarios) {
      log(`--- scenario ${s}`);
      try {
        const load0 = os.loadavg()[0]!.toFixed(2);
        const rs = await runScenario(s, workDir);
        const load1 = os.loadavg()[0]!.toFixed(2);
        for (const r of rs) {
          r.notes.push(
            `1-minute load average: ${load0} at the start of the scenario, ${load1} at its end.`,
          );
          results.push(r);
          for (const t of r.targets)
            log(`target ${t.met ? "met   " : "MISSED"} ${t.what}: ${t.value}`);
        }
      } catch (e) {
        log(`scenario ${s} failed: ${(e as Error).stack}`);
        info.notes.push(`scenario ${s} failed: ${(e as Error).message.split("\n")[0]}`);
      }
      await save();
    }
  } finally {
    if (values.keep) log(`kept work dir ${workDir}`);
    else await rm(workDir, { recursive: true, force: true });
  }
  log(`results in ${outDir}${values.out === undefined ? " (and bench/results/latest/)" : ""}`);
}

/** Tessera's peak RSS per payload size measured so far in this run (for (c)). */
const tesseraRss = new Map<number, number>();

function rememberRss(r: ScenarioResult, length: number): ScenarioResult {
  const t = (r.raw as { client: string; peakRss: number }[]).find((x) => x.client === "tessera");
  if (t && Number.isFinite(t.peakRss)) tesseraRss.set(length, t.peakRss);
  return r;
}

async function runScenario(s: string, workDir: string): Promise<ScenarioResult[]> {
  const dl = { runs, workDir, freshPayload };
  switch (s) {
    case "a":
      return [
        rememberRss(
          await downloadScenario({
            ...dl,
            id: "a",
            title: `${formatSize(size)} single file, 1 MiB pieces: libtorrent seed → each downloader`,
            length: size,
            pieceLength: MIB,
            clients: allClients,
          }),
          size,
        ),
      ];
    case "b": {
      const out: ScenarioResult[] = [];
      for (const pl of [16 * 1024, 16 * MIB]) {
        out.push(
          await downloadScenario({
            ...dl,
            id: `b-${formatSize(pl)}`,
            title: `${formatSize(size)} single file, ${formatSize(pl)} pieces: libtorrent seed → each downloader`,
            length: size,
            pieceLength: pl,
            clients: pairClients,
          }),
        );
      }
      return out;
    }
    case "c": {
      if (!tesseraRss.has(size)) {
        rememberRss(
          await downloadScenario({
            ...dl,
            id: "c-small",
            title: "",
            length: size,
            pieceLength: MIB,
            clients: [DOWNLOADERS.tessera!],
          }),
          size,
        );
      }
      const r = rememberRss(
        await downloadScenario({
          ...dl,
          id: "c",
          title: `${formatSize(bigSize)} single file, 1 MiB pieces: memory stays flat`,
          length: bigSize,
          pieceLength: MIB,
          clients: pairClients,
        }),
        bigSize,
      );
      const small = tesseraRss.get(size);
      const big = tesseraRss.get(bigSize);
      if (small !== undefined && big !== undefined) {
        r.targets.push({
          what: `(c) Tessera peak RSS at ${formatSize(bigSize)} within 10% of ${formatSize(size)}`,
          value: `${(big / MIB).toFixed(0)} MiB vs ${(small / MIB).toFixed(0)} MiB = ${(big / small).toFixed(2)}×`,
          met: big <= small * 1.1,
        });
      }
      return [r];
    }
    case "d":
      return [await seedScenario({ length: size, runs, workDir, freshPayload })];
    case "e":
      return [
        await swarmScenario({
          length: Math.max(16 * MIB, size / 4),
          count: 20,
          runs: Math.max(1, Math.min(runs, 2)),
          workDir,
          freshPayload,
        }),
      ];
    case "f":
      return [await recheckScenario({ length: bigSize, runs, freshPayload })];
    case "g":
      return [await createScenario({ length: bigSize, runs, workDir, freshPayload })];
    case "h":
      return [await decodeScenario({ runs, workDir })];
    case "startup":
      return [await startupScenario({ runs })];
    default:
      throw new Error(`unknown scenario ${s}`);
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
