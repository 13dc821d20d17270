import { formatBytes } from "./format.js";

export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

/** Inputs smaller than this finish before a bar is worth drawing. */
const MIN_TOTAL_FOR_BAR = 64 * 1024 * 1024;

/**
 * A byte-progress bar on stderr when stderr is a terminal (cli-progress, loaded only then, so
 * scripts and `--help` never pay for it); nothing otherwise.
 */
export function startProgress(label: string): Progress {
  if (!process.stderr.isTTY) return { update() {}, stop() {} };
  type Bar = {
    start(total: number, v: number, p?: object): void;
    update(v: number, p?: object): void;
    stop(): void;
  };
  let bar: Bar | undefined;
  let loading = false;
  let last: [number, number] = [0, 0];
  const t0 = performance.now();
  const payload = (done: number) => {
    const secs = (performance.now() - t0) / 1000;
    return { doneText: formatBytes(done), rate: secs > 0 ? `${formatBytes(done / secs)}/s` : "" };
  };
  return {
    update(done, total) {
      last = [done, total];
      if (total < MIN_TOTAL_FOR_BAR) return;
      if (bar) {
        bar.update(done, payload(done));
        return;
      }
      if (loading) return;
      loading = true;
      void import("cli-progress").then((mod) => {
        const cp = (mod as unknown as { default: typeof import("cli-progress") }).default;
        bar = new cp.SingleBar(
          {
            format: `${label} [{bar}] {percentage}% | {doneText} of ${formatBytes(last[1])} | {rate}`,
            stream: process.stderr,
            hideCursor: true,
            clearOnComplete: true,
          },
          cp.Presets.shades_classic,
        ) as Bar;
        bar.start(last[1], last[0], payload(last[0]));
      });
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
