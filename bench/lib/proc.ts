/**
 * Resource use of a running process, read from /proc: CPU seconds (user + sys, its threads and
 * waited-for children), peak RSS (the kernel's VmHWM) and peak anonymous memory (RssAnon has no
 * peak field, so it is sampled), plus an optional byte counter sampled over time.
 * @module
 */
import { readFileSync, statSync } from "node:fs";

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
