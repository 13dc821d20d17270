/**
 * The `tessera` CLI (bin/tessera.js) as an interop peer: a fresh child process per use, run with
 * `--json`, its events parsed from stdout (and copied into its log next to stderr).
 * @module
 */
import { appendFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { TESSERA_BIN } from "../cli/run.js";
import {
  DEFAULT_TIMEOUT_MS,
  deferred,
  type ExitInfo,
  ensureWorkDir,
  ManagedProcess,
  type Stoppable,
  uniqueLogPath,
  withTimeout,
} from "./clients/index.js";

/** One `--json` line: `{"event": "...", ...}`. */
export interface TesseraEvent {
  event: string;
  [key: string]: unknown;
}

export interface TesseraOptions {
  /** The test's temp dir: the log goes here. */
  workDir: string;
  /** Bound for the start-up and for every wait without its own bound; default 60 s. */
  timeoutMs?: number;
  name?: string;
}

export interface TesseraProcess extends Stoppable {
  readonly process: ManagedProcess;
  readonly log: string;
  /** The listen port from the "started" event. */
  readonly port: number;
  /** Every event so far, in order. */
  readonly events: readonly TesseraEvent[];
  /** The first event (past or future) matching `pred`; bounded; fails early if tessera exits. */
  waitForEvent(
    what: string,
    pred: (e: TesseraEvent) => boolean,
    timeoutMs?: number,
  ): Promise<TesseraEvent>;
  /** Its exit (bounded by `timeoutMs`); the last stdout lines are parsed by then. */
  exited(timeoutMs?: number): Promise<ExitInfo>;
  /** SIGTERM (then SIGKILL after a grace period); resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * Run `tessera <args> --json` and resolve once it printed its "started" event (so `port` is
 * known). Pass `--port 0` in `args` so parallel tests never compete for 6881-6889.
 */
export async function startTessera(
  args: readonly string[],
  opts: TesseraOptions,
): Promise<TesseraProcess> {
  const workDir = await ensureWorkDir(opts.workDir);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const name = opts.name ?? `tessera-${args[0] ?? "cli"}`;
  const proc = new ManagedProcess(
    name,
    uniqueLogPath(workDir, name),
    process.execPath,
    [TESSERA_BIN, ...args, "--json"],
    // SIGTERM lets it flush and close its files; it exits well within the grace period.
    { stdout: "pipe", graceMs: 5_000 },
  );
  const events: TesseraEvent[] = [];
  const waiters = new Set<{ pred: (e: TesseraEvent) => boolean; fn: (e: TesseraEvent) => void }>();
  // Resolves after the last stdout line was handled (readline closes after the pipe's end).
  const stdoutDone = deferred<void>();
  const rl = createInterface({ input: proc.child.stdout! });
  rl.on("line", (line) => {
    try {
      appendFileSync(proc.logPath, `> ${line}\n`);
    } catch {
      // log dir removed
    }
    let ev: TesseraEvent;
    try {
      ev = JSON.parse(line) as TesseraEvent;
    } catch {
      ev = { event: "unparsed", line };
    }
    events.push(ev);
    for (const w of [...waiters]) {
      if (w.pred(ev)) {
        waiters.delete(w);
        w.fn(ev);
      }
    }
  });
  rl.on("close", () => stdoutDone.resolve());
  const fullyExited = Promise.all([proc.exited, stdoutDone.promise]).then(([x]) => x);

  const waitForEvent = (
    what: string,
    pred: (e: TesseraEvent) => boolean,
    ms = timeoutMs,
  ): Promise<TesseraEvent> => {
    const past = events.find(pred);
    if (past) return Promise.resolve(past);
    const d = deferred<TesseraEvent>();
    const waiter = { pred, fn: d.resolve };
    waiters.add(waiter);
    void fullyExited.then(() => d.reject(proc.failure(`exited while waiting for ${what}`)));
    const out = withTimeout(d.promise, ms, () =>
      proc.failure(`timed out after ${ms} ms waiting for ${what}`),
    );
    void out.finally(() => waiters.delete(waiter)).catch(() => {});
    return out;
  };

  let port = 0;
  try {
    const started = await waitForEvent("the started event", (e) => e.event === "started");
    port = started.port as number;
  } catch (e) {
    await proc.stop();
    throw e;
  }
  const stop = () => proc.stop();
  return {
    process: proc,
    log: proc.logPath,
    port,
    events,
    waitForEvent,
    exited: (ms = timeoutMs) =>
      withTimeout(fullyExited, ms, () => proc.failure(`still running after ${ms} ms`)),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * Run `tessera download ...` to completion: resolves with its events once it exited 0 after a
 * "done" event; rejects with its log tail otherwise (or after `timeoutMs`).
 */
export async function tesseraDownload(
  t: TesseraProcess,
  timeoutMs?: number,
): Promise<{ events: readonly TesseraEvent[]; seconds: number }> {
  const started = Date.now();
  const x = await t.exited(timeoutMs);
  if (x.code !== 0) throw t.process.failure(`exited with code ${x.code} (signal ${x.signal})`);
  if (!t.events.some((e) => e.event === "done"))
    throw t.process.failure("exited 0 without a done event");
  return { events: t.events, seconds: (Date.now() - started) / 1000 };
}

/**
 * Assert that Tessera dropped no peer as misbehaving: a real client talking to Tessera must not
 * be seen as violating the protocol, flooding, sending bad data or unrequested blocks.
 */
export function assertNoPeerFaults(t: TesseraProcess): void {
  const faults = t.events.filter(
    (e) =>
      e.event === "peer-banned" ||
      e.event === "hash-failed" ||
      (e.event === "peer-disconnected" &&
        /protocol violation|request-flood|unrequested|banned/.test(String(e.reason))),
  );
  if (faults.length > 0) {
    throw t.process.failure(`peer faults: ${faults.map((e) => JSON.stringify(e)).join("; ")}`);
  }
}
