/**
 * A ManagedProcess (own process group, log file, dies with us) whose stdout is JSON lines:
 * Tessera's `--json` events and the WebTorrent driver's.
 * @module
 */
import { appendFileSync } from "node:fs";
import { createInterface } from "node:readline";
import {
  deferred,
  ManagedProcess,
  type SpawnOptions,
  uniqueLogPath,
  withTimeout,
} from "../../test/interop/clients/index.js";

export interface JsonEvent {
  event: string;
  [key: string]: unknown;
}

export class JsonProcess {
  readonly process: ManagedProcess;
  readonly events: JsonEvent[] = [];
  private readonly waiters = new Set<{
    pred: (e: JsonEvent) => boolean;
    fn: (e: JsonEvent) => void;
  }>();

  constructor(
    name: string,
    workDir: string,
    command: string,
    args: readonly string[],
    opts: SpawnOptions = {},
  ) {
    this.process = new ManagedProcess(name, uniqueLogPath(workDir, name), command, args, {
      stdout: "pipe",
      ...opts,
    });
    const rl = createInterface({ input: this.process.child.stdout! });
    rl.on("line", (line) => this.onLine(line));
  }

  get pid(): number {
    return this.process.pid;
  }

  private onLine(line: string): void {
    let ev: JsonEvent;
    try {
      ev = JSON.parse(line) as JsonEvent;
    } catch {
      ev = { event: "unparsed", line };
    }
    if (ev.event !== "progress") {
      try {
        appendFileSync(this.process.logPath, `> ${line}\n`);
      } catch {
        // log dir removed
      }
    }
    this.events.push(ev);
    for (const w of [...this.waiters]) {
      if (w.pred(ev)) {
        this.waiters.delete(w);
        w.fn(ev);
      }
    }
  }

  /** The first event (past or future) named `name` (or matching `pred`), bounded by `timeoutMs`. */
  waitFor(name: string | ((e: JsonEvent) => boolean), timeoutMs: number): Promise<JsonEvent> {
    const pred = typeof name === "string" ? (e: JsonEvent) => e.event === name : name;
    const what = typeof name === "string" ? `event "${name}"` : "an event";
    const past = this.events.find(pred);
    if (past) return Promise.resolve(past);
    const d = deferred<JsonEvent>();
    const waiter = { pred, fn: d.resolve };
    this.waiters.add(waiter);
    void this.process.exited.then(() =>
      setImmediate(() => d.reject(this.process.failure(`exited while waiting for ${what}`))),
    );
    const out = withTimeout(d.promise, timeoutMs, () =>
      this.process.failure(`timed out after ${timeoutMs} ms waiting for ${what}`),
    );
    void out.finally(() => this.waiters.delete(waiter)).catch(() => {});
    return out;
  }

  stop(): Promise<void> {
    this.process.child.stdin?.end();
    return this.process.stop();
  }
}
