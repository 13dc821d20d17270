/**
 * Scenarios (a), (b), (c): a libtorrent seed on loopback, each downloader in turn on the same
 * payload, several rounds (the order rotates every round so drift hits every client alike).
 * @module
 */
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import {
  LOOPBACK4,
  startLibtorrentSeed,
  startTestTracker,
} from "../../test/interop/clients/index.js";
import type { Downloader, RunResult } from "../clients/downloaders.js";
import { ensurePayload } from "../lib/payload.js";
import { readProc } from "../lib/proc.js";
import type { ScenarioResult, Target } from "../lib/types.js";
import { formatSize, log, median, mib, run, sameContent } from "../lib/util.js";

export interface DownloadScenarioOptions {
  id: string;
  title: string;
  length: number;
  pieceLength: number;
  clients: Downloader[];
  runs: number;
  workDir: string;
  freshPayload: boolean;
}

export interface ClientSummary {
  client: string;
  version: string;
  runs: (RunResult & { seedCpu: number })[];
  failures: string[];
  mbs: number;
  seconds: number;
  cpu: number;
  peakRss: number;
  peakAnon: number;
  seedCpu: number;
}

export const LT_SEED_CONFIG =
  "python3-libtorrent high_performance_seed(), upload_mode, TCP only, DHT/LSD/UPnP/NAT-PMP off, listen 127.0.0.1 (test/interop/clients/lt_peer.py)";

/**
 * Puts the machine's free memory in the same state before every run. On these VMs (Firecracker,
 * virtio-balloon free page reporting) memory that stayed free for a few seconds is handed back to
 * the host, and the first touch of each page then costs a host fault: writing 1 GiB into the page
 * cache took 1.0–2.7 sys-s after an idle pause and 0.25 s right after another such write (python
 * pwrite and mmap alike, bench/README.md). Without this, whichever client ran right after another
 * one that had just freed a GiB got the cheap pages, so the rotation of clients, not the clients,
 * decided up to 2.5 CPU-s of a run. Writing and deleting a scratch file larger than the payload
 * (never written back: it is deleted while dirty) leaves every client the same recently-freed
 * memory. BENCH_NO_WARM=1 turns it off.
 */
async function warmFreeMemory(dir: string, bytes: number): Promise<void> {
  if (process.env.BENCH_NO_WARM === "1") return;
  const file = path.join(dir, "warm-free-memory.tmp");
  const mib = Math.ceil(bytes / 2 ** 20);
  await run("dd", ["if=/dev/zero", `of=${file}`, "bs=1M", `count=${mib}`, "status=none"]);
  await rm(file, { force: true });
}

/** Runs every client `runs` times against one libtorrent seed; one summary per client. */
export async function runDownloads(o: DownloadScenarioOptions): Promise<ClientSummary[]> {
  const payload = await ensurePayload(o.length, o.pieceLength, o.freshPayload);
  const dir = path.join(o.workDir, `scenario-${o.id}`);
  await mkdir(dir, { recursive: true });
  const timeoutMs = Math.max(180_000, (o.length / 4e6) * 1000);
  const seed = await startLibtorrentSeed({
    torrent: payload.torrent,
    dataDir: payload.dir,
    workDir: dir,
    timeoutMs,
    name: "lt-seed",
  });
  const tracker = await startTestTracker({
    peers: () => [{ ip: LOOPBACK4, port: seed.port }],
    interval: 5,
  });
  const summaries: ClientSummary[] = [];
  try {
    const usable: Downloader[] = [];
    for (const c of o.clients) {
      try {
        const version = await c.version();
        usable.push(c);
        summaries.push({
          client: c.name,
          version,
          runs: [],
          failures: [],
          mbs: Number.NaN,
          seconds: Number.NaN,
          cpu: Number.NaN,
          peakRss: Number.NaN,
          peakAnon: Number.NaN,
          seedCpu: Number.NaN,
        });
      } catch (e) {
        log(`${c.name}: unavailable, skipped: ${(e as Error).message.split("\n")[0]}`);
        summaries.push({
          client: c.name,
          version: "unavailable",
          runs: [],
          failures: [`unavailable: ${(e as Error).message.split("\n")[0]}`],
          mbs: Number.NaN,
          seconds: Number.NaN,
          cpu: Number.NaN,
          peakRss: Number.NaN,
          peakAnon: Number.NaN,
          seedCpu: Number.NaN,
        });
      }
    }
    for (let r = 0; r < o.runs; r++) {
      for (let i = 0; i < usable.length; i++) {
        const c = usable[(i + r) % usable.length]!;
        const s = summaries.find((x) => x.client === c.name)!;
        const saveDir = path.join(dir, `dl-${c.name}-${r}`);
        await rm(saveDir, { recursive: true, force: true });
        await mkdir(saveDir, { recursive: true });
        await warmFreeMemory(dir, Math.min(o.length + 512 * 2 ** 20, 3 * 2 ** 30));
        const seedBefore = readProc(seed.process.pid);
        try {
          const res = await c.download({
            payload,
            saveDir,
            seed: { host: seed.host, port: seed.port },
            seedConnect: (p) => seed.connect(p),
            trackerUrl: tracker.announceUrl,
            workDir: dir,
            timeoutMs,
          });
          const seedAfter = readProc(seed.process.pid);
          const seedCpu =
            seedBefore && seedAfter
              ? seedAfter.user + seedAfter.sys - seedBefore.user - seedBefore.sys
              : Number.NaN;
          const got = path.join(saveDir, payload.name);
          if (!sameContent(got, payload.file)) throw new Error(`${got} differs from the payload`);
          s.runs.push({ ...res, seedCpu });
          log(
            `(${o.id}) ${c.name} run ${r + 1}/${o.runs}: ${res.mbs.toFixed(1)} MB/s, ${res.cpu.toFixed(2)} CPU-s, RSS ${mib(res.peakRss).toFixed(0)} MiB, anon ${mib(res.peakAnon).toFixed(0)} MiB, seed ${seedCpu.toFixed(2)} CPU-s${res.threads ? `\n    threads: ${res.threads}` : ""}`,
          );
        } catch (e) {
          const msg = (e as Error).message;
          s.failures.push(msg.split("\n")[0]!);
          log(`(${o.id}) ${c.name} run ${r + 1} FAILED: ${msg}`);
        } finally {
          await rm(saveDir, { recursive: true, force: true });
          await run("sync");
        }
      }
    }
  } finally {
    await tracker.stop();
    await seed.stop();
  }
  for (const s of summaries) {
    s.mbs = median(s.runs.map((r) => r.mbs));
    s.seconds = median(s.runs.map((r) => r.seconds));
    s.cpu = median(s.runs.map((r) => r.cpu));
    s.peakRss = median(s.runs.map((r) => r.peakRss));
    s.peakAnon = median(s.runs.map((r) => r.peakAnon));
    s.seedCpu = median(s.runs.map((r) => r.seedCpu));
  }
  return summaries;
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "–");
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "–");
const fm = (x: number) => (Number.isFinite(x) ? mib(x).toFixed(0) : "–");

/** Rate over time (MB/s over 250 ms windows) from a run's on-disk byte series. */
export function rateSeries(series: [number, number][], windowS = 0.25): [number, number][] {
  const out: [number, number][] = [];
  let j = 0;
  for (let i = 0; i < series.length; i++) {
    const [t, b] = series[i]!;
    while (j < i && series[j]![0] < t - windowS) j++;
    const [t0, b0] = series[j]!;
    if (t > t0) out.push([t, (b - b0) / (t - t0) / 1e6]);
  }
  return out;
}

export function downloadTable(summaries: ClientSummary[], length: number): ScenarioResult["table"] {
  const lt = summaries.find((s) => s.client === "libtorrent");
  const gib = length / 2 ** 30;
  return {
    columns: [
      "client",
      "version",
      "median MB/s",
      "× libtorrent",
      "CPU s",
      "CPU s/GiB",
      "peak RSS MiB",
      "peak anon MiB",
      "seed CPU s",
      "runs (MB/s)",
    ],
    rows: summaries.map((s) => [
      s.client,
      s.version,
      f1(s.mbs),
      lt ? f2(s.mbs / lt.mbs) : "–",
      f2(s.cpu),
      f2(s.cpu / gib),
      fm(s.peakRss),
      fm(s.peakAnon),
      f2(s.seedCpu),
      s.runs.map((r) => r.mbs.toFixed(0)).join(", ") +
        (s.failures.length ? ` (${s.failures.length} failed: ${s.failures[0]})` : ""),
    ]),
  };
}

/** Scenario (a) or (b): throughput, CPU and memory of every client. */
export async function downloadScenario(o: DownloadScenarioOptions): Promise<ScenarioResult> {
  const summaries = await runDownloads(o);
  const t = summaries.find((s) => s.client === "tessera");
  const lt = summaries.find((s) => s.client === "libtorrent");
  const targets: Target[] = [];
  if (t && lt) {
    targets.push(
      {
        what: `(${o.id}) Tessera median MB/s ≥ 1.0× libtorrent's`,
        value: `${f1(t.mbs)} vs ${f1(lt.mbs)} MB/s = ${f2(t.mbs / lt.mbs)}×`,
        met: t.mbs >= lt.mbs,
      },
      {
        what: `(${o.id}) Tessera CPU s ≤ 1.2× libtorrent's`,
        value: `${f2(t.cpu)} vs ${f2(lt.cpu)} s = ${f2(t.cpu / lt.cpu)}×`,
        met: t.cpu <= 1.2 * lt.cpu,
      },
    );
  }
  if (t) {
    targets.push({
      what: `(${o.id}) Tessera peak anonymous memory < 100 MiB`,
      value: `${fm(t.peakAnon)} MiB`,
      met: t.peakAnon < 100 * 2 ** 20,
    });
  }
  const best = (s: ClientSummary | undefined) =>
    s?.runs.reduce<RunResult | undefined>(
      (m, r) => (m === undefined || Math.abs(r.mbs - s.mbs) < Math.abs(m.mbs - s.mbs) ? r : m),
      undefined,
    );
  const rates: NonNullable<ScenarioResult["rates"]> = [];
  for (const s of [t, lt]) {
    const r = best(s);
    if (s && r) rates.push({ label: s.client, points: rateSeries(r.series) });
  }
  return {
    id: o.id,
    title: o.title,
    config: {
      payload: `${formatSize(o.length)} single file, ${formatSize(o.pieceLength)} pieces, v1 torrent made by libtorrent`,
      runs: o.runs,
      seed: LT_SEED_CONFIG,
      clients: Object.fromEntries(o.clients.map((c) => [c.name, c.config])),
    },
    table: downloadTable(summaries, o.length),
    targets,
    notes: [],
    chart: { unit: "MB/s", bars: summaries.map((s) => ({ label: s.client, value: s.mbs })) },
    rates,
    raw: summaries.map((s) => ({
      ...s,
      runs: s.runs.map((r) => ({ ...r, series: undefined })),
    })),
  };
}
