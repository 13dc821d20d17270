/**
 * Resource use of a running process, read from /proc: CPU seconds (user + sys, its threads and
 * waited-for children), peak RSS (the kernel's VmHWM) and peak anonymous memory (RssAnon has no
 * peak field, so it is sampled), plus an optional byte counter sampled over time.
 * @module
 */
import { readdirSync, readFileSync, statSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat times (sysconf(_SC_CLK_TCK); 100 on Linux). */
const CLK_TCK = 100;

export interface Usage {
  /** User CPU seconds (threads and waited-for children included). */
  user: number;
  /** System CPU seconds. */
  sys: number;
  /** VmHWM: peak resident set (bytes); for memory-mapping clients it counts file pages too. */
  peakRss: number;
  /** Largest RssAnon seen (bytes), sampled every `intervalMs`. */
  peakAnon: number;
}

export interface ProcSnapshot {
  user: number;
  sys: number;
  hwm: number;
  anon: number;
}

/** One read of /proc/<pid>/stat and /status; undefined when the process is gone. */
export function readProc(pid: number): ProcSnapshot | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    // Fields after "(comm)": state is field 3; utime 14, stime 15, cutime 16, cstime 17.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const user = (Number(f[11]) + Number(f[13])) / CLK_TCK;
    const sys = (Number(f[12]) + Number(f[14])) / CLK_TCK;
    const status = readFileSync(`/proc/${pid}/status`, "latin1");
    const kb = (key: string) => {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status);
      return m ? Number(m[1]) * 1024 : 0;
    };
    return { user, sys, hwm: kb("VmHWM"), anon: kb("RssAnon") };
  } catch {
    return undefined;
  }
}

/** Bytes allocated to `file` (st_blocks × 512): how much of a sparse download is written. */
export function allocatedBytes(file: string): number {
  try {
    return statSync(file).blocks * 512;
  } catch {
    return 0;
  }
}

/**
 * Samples a process every `intervalMs` until `finish()`: keeps the peak of RssAnon and the last
 * CPU/VmHWM reading, and (with `progress`) a time series of a byte counter.
 */
export class ProcSampler {
  private last: ProcSnapshot | undefined;
  private peakAnon = 0;
  private readonly timer: NodeJS.Timeout;
  readonly series: [seconds: number, bytes: number][] = [];
  private readonly t0: number;

  constructor(
    readonly pid: number,
    private readonly progress?: () => number,
    intervalMs = 50,
    t0 = performance.now(),
  ) {
    this.t0 = t0;
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  sample(): void {
    const s = readProc(this.pid);
    if (s) {
      this.last = s;
      if (s.anon > this.peakAnon) this.peakAnon = s.anon;
    }
    if (this.progress) {
      this.series.push([(performance.now() - this.t0) / 1000, this.progress()]);
    }
  }

  /** A final sample now, then stop; the usage as of this moment. */
  finish(): Usage {
    this.sample();
    clearInterval(this.timer);
    const s = this.last;
    return {
      user: s?.user ?? Number.NaN,
      sys: s?.sys ?? Number.NaN,
      peakRss: s?.hwm ?? Number.NaN,
      peakAnon: this.peakAnon,
    };
  }

  /** Stop without a final sample (the process is gone); the last usage seen. */
  stop(): void {
    clearInterval(this.timer);
  }
}

/**
 * CPU seconds per thread name (`/proc/<pid>/task/<tid>/comm`), threads of one name summed:
 * where a client's CPU goes (main thread, worker threads, libuv's pool, V8's helpers).
 */
export function readThreads(pid: number): Record<string, { user: number; sys: number; n: number }> {
  const out: Record<string, { user: number; sys: number; n: number }> = {};
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "latin1");
      const name =
        tid === String(pid) ? "main" : stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const e = out[name] ?? { user: 0, sys: 0, n: 0 };
      out[name] = e;
      e.user += Number(f[11]) / CLK_TCK;
      e.sys += Number(f[12]) / CLK_TCK;
      e.n++;
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** {@link readThreads} as one line: `main 1.40u/0.50s, libuv-worker×4 0.10u/0.60s, …`. */
export function formatThreads(t: Record<string, { user: number; sys: number; n: number }>): string {
  return Object.entries(t)
    .sort((a, b) => b[1].user + b[1].sys - a[1].user - a[1].sys)
    .map(([k, v]) => `${k}${v.n > 1 ? `×${v.n}` : ""} ${v.user.toFixed(2)}u/${v.sys.toFixed(2)}s`)
    .join(", ");
}
