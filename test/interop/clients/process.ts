/**
 * Child processes for interop tests: each runs in its own process group, writes its output to a log
 * file, dies with the test process, and is stopped by `stop()` / `await using`.
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readSync, statSync, writeSync } from "node:fs";
import { mkdir, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

/** Default bound for every wait in the harness. */
export const DEFAULT_TIMEOUT_MS = 60_000;

/** The repository root (compiled files live in dist/test/interop/clients). */
export const REPO_ROOT = fileURLToPath(new URL("../../../../", import.meta.url));

/** A file shipped next to these helpers in the source tree (python scripts). */
export function clientScript(name: string): string {
  return path.join(REPO_ROOT, "test", "interop", "clients", name);
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Options every `start*` helper accepts. */
export interface CommonOptions {
  /** Where logs and config go (the test's temp dir); a fresh temp dir when omitted. */
  workDir?: string;
  /** Bound for the start-up (and for `done`, where there is one); default 60 s. */
  timeoutMs?: number;
}

/** Something a test must stop: `await using x = await start...()` or `await x.stop()`. */
export interface Stoppable extends AsyncDisposable {
  stop(): Promise<void>;
}

const live = new Set<ManagedProcess>();
let exitHookInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is gone already.
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort when a test forgets stop() or the process ends early: nothing outlives us.
  process.on("exit", () => {
    for (const p of live) killGroup(p.pid, "SIGKILL");
  });
}

/** The work dir to use: `dir` (created) or a fresh temp dir. */
export async function ensureWorkDir(dir: string | undefined, prefix = "tessera-interop-") {
  if (dir !== undefined) {
    await mkdir(dir, { recursive: true });
    return dir;
  }
  return mkdtemp(path.join(tmpdir(), prefix));
}

/** A log path in `dir` that no other process of this run uses. */
let logCounter = 0;
export function uniqueLogPath(dir: string, name: string): string {
  logCounter += 1;
  return path.join(dir, `${name}-${process.pid}-${logCounter}.log`);
}

/** The last `lines` lines of a log file (carriage returns count as line breaks). */
export function tailFile(file: string, lines = 40, maxBytes = 16_384): string {
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    const size = statSync(file).size;
    const start = Math.max(0, size - maxBytes);
    const buf = Buffer.alloc(size - start);
    readSync(fd, buf, 0, buf.length, start);
    // Status lines repeat (Transmission redraws one every 200 ms): collapse runs.
    const out: string[] = [];
    let last = "";
    let count = 0;
    const flush = () => {
      if (count > 0) out.push(count > 1 ? `${last}  (x${count})` : last);
    };
    for (const raw of buf.toString("utf8").split(/\r\n|\r|\n/)) {
      const l = raw.trimEnd();
      if (l === "") continue;
      if (l === last) count++;
      else {
        flush();
        last = l;
        count = 1;
      }
    }
    flush();
    return out.slice(-lines).join("\n");
  } catch (e) {
    return `(no log: ${(e as Error).message})`;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** "pipe": the caller reads stdout (it is not logged); default: stdout goes to the log. */
  stdout?: "log" | "pipe";
  /** "pipe": the caller may write to stdin; default "ignore". */
  stdin?: "pipe" | "ignore";
  /** Signal the process gets when the test process dies (prctl PR_SET_PDEATHSIG); default KILL. */
  parentDeathSignal?: "KILL" | "TERM" | null;
  /** Time between SIGTERM and SIGKILL in stop(); default 2 s. */
  graceMs?: number;
}

/** A child process in its own process group, logging to `logPath`. */
export class ManagedProcess implements Stoppable {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<ExitInfo>;
  exitInfo: ExitInfo | undefined;
  private stopping: Promise<void> | undefined;
  private readonly graceMs: number;

  constructor(
    readonly name: string,
    readonly logPath: string,
    command: string,
    args: readonly string[],
    opts: SpawnOptions,
  ) {
    installExitHook();
    this.graceMs = opts.graceMs ?? 2_000;
    const fd = openSync(logPath, "a");
    try {
      writeSync(fd, `# ${new Date().toISOString()} ${command} ${args.join(" ")}\n`);
      const pdeath = opts.parentDeathSignal === undefined ? "KILL" : opts.parentDeathSignal;
      const [cmd, argv] =
        pdeath === null
          ? [command, [...args]]
          : ["/usr/bin/setpriv", ["--pdeathsig", pdeath, "--", command, ...args]];
      this.child = spawn(cmd, argv, {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        detached: true, // own process group, so stop() reaches grandchildren too
        stdio: [opts.stdin ?? "ignore", opts.stdout === "pipe" ? "pipe" : fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    if (this.child.pid === undefined) {
      // spawn failed synchronously (ENOENT is reported via 'error').
      this.pid = -1;
    } else {
      this.pid = this.child.pid;
      live.add(this);
    }
    this.exited = new Promise<ExitInfo>((resolve) => {
      this.child.once("error", (err) => {
        this.exitInfo ??= { code: -1, signal: null };
        this.note(`spawn error: ${err.message}`);
        resolve(this.exitInfo);
      });
      this.child.once("exit", (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
    void this.exited.then(() => {
      live.delete(this);
    });
    // A forgotten process must not hold the test process open (the exit hook kills it); every wait
    // on it is bounded by a ref'd timer instead.
    this.child.unref();
    for (const s of [this.child.stdin, this.child.stdout])
      (s as { unref?: () => void } | null)?.unref?.();
  }

  get running(): boolean {
    return this.exitInfo === undefined && this.pid > 0;
  }

  /** Append a harness note to the log. */
  note(line: string): void {
    try {
      const fd = openSync(this.logPath, "a");
      try {
        writeSync(fd, `# harness: ${line}\n`);
      } finally {
        closeSync(fd);
      }
    } catch {
      // log dir removed: ignore.
    }
  }

  tail(lines = 40): string {
    return tailFile(this.logPath, lines);
  }

  /** An Error naming the process, its state and the tail of its log. */
  failure(message: string, lines = 40): Error {
    const state = this.exitInfo
      ? `exited (code ${this.exitInfo.code}, signal ${this.exitInfo.signal})`
      : "running";
    return new Error(
      `${this.name}: ${message} [${state}; log ${this.logPath}]\n--- last lines of the log ---\n${this.tail(lines)}`,
    );
  }

  /** SIGTERM the process group, SIGKILL after the grace period; idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.pid <= 0) return;
      if (this.running) {
        killGroup(this.pid, "SIGTERM");
        if ((await raceTimer(this.exited, this.graceMs)) === TIMEOUT) {
          this.note(`no exit ${this.graceMs} ms after SIGTERM: SIGKILL`);
        }
      }
      // Leftovers in the group (scripts, children) go too.
      killGroup(this.pid, "SIGKILL");
      await raceTimer(this.exited, 5_000);
      live.delete(this);
    })();
    return this.stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/**
 * Poll `check` every `intervalMs` until it returns a value other than undefined/false. Fails with
 * the log tail of `proc` when `timeoutMs` passes or `proc` exits first.
 */
export async function waitUntil<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  opts: { proc?: ManagedProcess; timeoutMs?: number; intervalMs?: number },
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (opts.proc && !opts.proc.running) {
      throw opts.proc.failure(`exited while waiting for ${what}`);
    }
    if (Date.now() >= deadline) {
      const msg = `timed out after ${timeoutMs} ms waiting for ${what}`;
      throw opts.proc ? opts.proc.failure(msg) : new Error(msg);
    }
    await sleep(opts.intervalMs ?? 100);
  }
}

const TIMEOUT: unique symbol = Symbol("timeout");

/** `p`, or TIMEOUT after `ms`; the timer is cleared either way (no lingering ref'd timers). */
async function raceTimer<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMEOUT> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<typeof TIMEOUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMEOUT), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

/** A promise with its settle functions; rejections are marked handled so nobody must await it. */
export function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/**
 * Bound `p`: rejects with `onTimeout()` after `timeoutMs`; the timer is cleared when `p` settles.
 */
export function withTimeout<T>(p: Promise<T>, timeoutMs: number, onTimeout: () => Error) {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    // ref'd on purpose: it keeps the event loop alive while someone waits on an unref'd child.
    timer = setTimeout(() => reject(onTimeout()), timeoutMs);
  });
  const out = Promise.race([p, t]).finally(() => clearTimeout(timer));
  out.catch(() => {});
  return out;
}
