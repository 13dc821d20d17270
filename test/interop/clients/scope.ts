/**
 * A test's temp dir plus everything started in it, stopped in reverse order on dispose.
 * @module
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Stoppable } from "./process.js";

/** Set to keep temp dirs (data, configs and client logs) after the tests. */
export const KEEP_ENV = "TESSERA_INTEROP_KEEP";

export interface InteropScope extends AsyncDisposable {
  /** The temp dir: pass it as `workDir` so client logs land here. */
  readonly dir: string;
  /** Stop `x` when the scope closes; returns `x`. */
  use<T extends Stoppable>(x: T): T;
  /** Stop everything (newest first) and remove `dir` unless TESSERA_INTEROP_KEEP is set. */
  close(): Promise<void>;
}

/**
 * `await using s = await interopScope("lt-lt"); const seed = s.use(await startLibtorrentSeed({
 * ..., workDir: s.dir }))` — or `t.after(() => s.close())`.
 */
export async function interopScope(name = "test"): Promise<InteropScope> {
  const dir = await mkdtemp(path.join(tmpdir(), `tessera-interop-${name}-`));
  const items: Stoppable[] = [];
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      const errors: unknown[] = [];
      for (const x of items.reverse()) {
        try {
          await x.stop();
        } catch (e) {
          errors.push(e);
        }
      }
      if (process.env[KEEP_ENV]) process.stderr.write(`# kept interop dir ${dir}\n`);
      else await rm(dir, { recursive: true, force: true });
      if (errors.length > 0) throw new AggregateError(errors, "stopping interop clients failed");
    })();
    return closing;
  };
  return {
    dir,
    use: (x) => {
      items.push(x);
      return x;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
