import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
/** Debian's python3-libtorrent is built for this interpreter only (see shared/INTEROP.md). */
export const PYTHON = "/usr/bin/python3";
const TOOL = fileURLToPath(new URL("../../../test/interop/lt_tool.py", import.meta.url));

export interface LtInfo {
  infoHash: string;
  name: string;
  numPieces: number;
  pieceLength: number;
  totalSize: number;
  private: boolean;
  trackers: string[];
  files: { path: string; length: number; pad: boolean }[];
}

export interface LtCheck {
  checked: boolean;
  state: string;
  progress: number;
  isSeeding: boolean;
  numPieces: number;
  havePieces: number;
}

async function tool<T>(...args: string[]): Promise<T> {
  const { stdout } = await run(PYTHON, [TOOL, ...args], { timeout: 120_000, maxBuffer: 64 << 20 });
  return JSON.parse(stdout) as T;
}

/** What libtorrent makes of a .torrent file. Fails (never skips) when libtorrent is missing. */
export function ltInfo(torrentPath: string): Promise<LtInfo> {
  return tool<LtInfo>("info", torrentPath);
}

/** libtorrent's verdict on the data in `saveDir` for a torrent. */
export function ltCheck(torrentPath: string, saveDir: string): Promise<LtCheck> {
  return tool<LtCheck>("check", torrentPath, saveDir);
}

/** Run a python snippet with libtorrent imported as `lt`; returns stdout. */
export async function ltPython(code: string, timeout = 120_000): Promise<string> {
  const { stdout } = await run(PYTHON, ["-c", `import libtorrent as lt\n${code}`], {
    timeout,
    maxBuffer: 64 << 20,
  });
  return stdout;
}
