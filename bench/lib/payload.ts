/**
 * Benchmark payloads: one deterministic pseudo-random file per size (makeContent, AES-CTR), kept
 * in a cache dir under the temp dir across runs (same bytes every time), and its v1 torrents made
 * by libtorrent, one per piece length.
 * @module
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createTorrentWithLibtorrent, makeContent } from "../../test/interop/clients/index.js";
import { formatSize, log } from "./util.js";

export const PAYLOAD_CACHE = path.join(tmpdir(), "tessera-bench-payloads");

export interface Payload {
  /** The directory holding the file (a seed's data dir / libtorrent save_path). */
  dir: string;
  /** The file's name (= the torrent's name). */
  name: string;
  file: string;
  length: number;
  torrent: string;
  infoHash: string;
  pieceLength: number;
}

/** The payload of `length` bytes with a torrent of `pieceLength` pieces, made once and cached. */
export async function ensurePayload(
  length: number,
  pieceLength: number,
  fresh = false,
): Promise<Payload> {
  const dir = path.join(PAYLOAD_CACHE, `data-${formatSize(length)}`);
  const name = `payload-${formatSize(length)}.bin`;
  const file = path.join(dir, name);
  if (fresh) await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  if (!existsSync(file) || statSync(file).size !== length) {
    log(`making ${formatSize(length)} of payload in ${file}`);
    await makeContent(dir, [{ path: name, length }], "tessera-bench");
  }
  const torrent = path.join(PAYLOAD_CACHE, `${name}.${formatSize(pieceLength)}.torrent`);
  const meta = `${torrent}.json`;
  let infoHash: string;
  if (
    existsSync(torrent) &&
    existsSync(meta) &&
    statSync(torrent).mtimeMs >= statSync(file).mtimeMs
  ) {
    infoHash = (JSON.parse(readFileSync(meta, "utf8")) as { infoHash: string }).infoHash;
  } else {
    log(`making ${path.basename(torrent)} with libtorrent`);
    const made = await createTorrentWithLibtorrent(file, { pieceLength, out: torrent, kind: "v1" });
    infoHash = made.infoHash!;
    await writeFile(meta, JSON.stringify({ infoHash }));
  }
  return { dir, name, file, length, torrent, infoHash, pieceLength };
}
