import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

/** Path of the `tessera` executable as installed by npm (bin/tessera.js). */
export const TESSERA_BIN = fileURLToPath(new URL("../../../bin/tessera.js", import.meta.url));

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the real CLI in a child process. */
export function tessera(
  args: string[],
  opts: { cwd?: string; timeout?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [TESSERA_BIN, ...args],
      { cwd: opts.cwd, timeout: opts.timeout ?? 60_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
