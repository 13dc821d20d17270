import { createHash } from "node:crypto";
import { BDict, BencodeError, type BValue, decode, MAX_TOKENS } from "../bencode/index.js";
import type { InfoHashV1, InfoHashV2 } from "../types.js";
import { MetainfoError } from "./errors.js";
import {
  decodeUtf8Lossy,
  isValidUtf8,
  resolveDuplicatePaths,
  sanitizeComponent,
  sanitizePath,
} from "./path.js";
import type { TorrentFile, TorrentMeta } from "./types.js";

/** Largest .torrent accepted (libtorrent's default limit is in the same range). */
export const MAX_TORRENT_SIZE = 64 * 1024 * 1024;
/** Most pieces accepted (libtorrent's default `max_pieces`). */
export const MAX_PIECES = 0x200000;
/** Most files accepted in one torrent. */
export const MAX_FILES = 1_000_000;
/** Largest piece length accepted. */
export const MAX_PIECE_LENGTH = 512 * 1024 * 1024;
/** Tokens allowed when decoding a .torrent (libtorrent's default `max_decode_tokens`). */
export const MAX_TORRENT_TOKENS = Math.max(MAX_TOKENS, 3_000_000);

const HASH_LEN = 20;

/**
 * Parse and validate a .torrent file's bytes.
 * @throws {MetainfoError} naming the field at fault; a bencode fault comes as `METAINFO_BENCODE`
 * with the {@link BencodeError} as `cause`.
 */
export function parseTorrent(bytes: Uint8Array): TorrentMeta {
  if (bytes.length > MAX_TORRENT_SIZE) {
    throw new MetainfoError(
      "METAINFO_TOO_LARGE",
      "",
      `torrent file is ${bytes.length} bytes, more than the ${MAX_TORRENT_SIZE}-byte limit`,
    );
  }
  let root: BValue;
  try {
    root = decode(bytes, { maxTokens: MAX_TORRENT_TOKENS });
  } catch (e) {
    if (e instanceof BencodeError) {
      throw new MetainfoError("METAINFO_BENCODE", "", `not a valid torrent file: ${e.message}`, {
        cause: e,
      });
    }
    throw e;
  }
  if (!(root instanceof BDict))
    throw new MetainfoError("METAINFO_WRONG_TYPE", "", "torrent file is not a dictionary");
  const info = root.get("info");
  if (info === undefined) throw new MetainfoError("METAINFO_MISSING_FIELD", "info", "missing");
  if (!(info instanceof BDict))
    throw new MetainfoError("METAINFO_WRONG_TYPE", "info", "not a dictionary");
  const parsed = parseInfo(info, info.raw);
  const warnings = parsed.warnings;
  return {
    ...parsed,
    trackers: parseTrackers(root),
    webSeeds: stringList(root.get("url-list")),
    httpSeeds: stringList(root.get("httpseeds")),
    ...optionalText(root, "comment"),
    ...optionalText(root, "created by", "createdBy"),
    ...(typeof root.get("creation date") === "number"
      ? { creationDate: root.get("creation date") as number }
      : {}),
    warnings,
  };
}

/** The parts of {@link TorrentMeta} that come from the info dictionary alone (also used for BEP 9 metadata). */
export type InfoPart = Omit<
  TorrentMeta,
  "trackers" | "webSeeds" | "httpSeeds" | "comment" | "createdBy" | "creationDate"
>;

/**
 * Parse the bytes of an info dictionary (BEP 9 metadata, or the copy kept in resume data).
 * @throws {MetainfoError}
 */
export function parseInfoBytes(raw: Uint8Array): InfoPart {
  let dict: unknown;
  try {
    dict = decode(raw, { maxTokens: MAX_TORRENT_TOKENS });
  } catch (e) {
    throw new MetainfoError("METAINFO_BENCODE", "info", (e as Error).message);
  }
  if (!(dict instanceof BDict))
    throw new MetainfoError("METAINFO_WRONG_TYPE", "info", "not a dictionary");
  return parseInfo(dict, raw);
}

/**
 * Parse and validate an info dictionary. `raw` must be its exact bytes (hashed for the info-hash).
 * @throws {MetainfoError}
 */
export function parseInfo(info: BDict, raw: Uint8Array): InfoPart {
  const warnings: string[] = [];
  const infoHash = createHash("sha1").update(raw).digest() as Uint8Array as InfoHashV1;
  const infoHashHex = Buffer.from(infoHash).toString("hex");

  const metaVersion = info.get("meta version");
  const pieces = info.get("pieces");
  if (metaVersion !== undefined && metaVersion !== 1 && pieces === undefined) {
    throw new MetainfoError(
      "METAINFO_UNSUPPORTED",
      "info.meta version",
      "v2-only torrents (BEP 52) are not supported yet; a hybrid torrent works",
    );
  }
  const infoHashV2 =
    metaVersion === 2
      ? (createHash("sha256").update(raw).digest() as Uint8Array as InfoHashV2)
      : undefined;

  const pieceLength = info.get("piece length");
  if (pieceLength === undefined)
    throw new MetainfoError("METAINFO_MISSING_FIELD", "info.piece length", "missing");
  if (typeof pieceLength !== "number" || !Number.isInteger(pieceLength)) {
    throw new MetainfoError("METAINFO_WRONG_TYPE", "info.piece length", "not an integer");
  }
  if (pieceLength <= 0) {
    throw new MetainfoError(
      "METAINFO_PIECE_LENGTH",
      "info.piece length",
      `${pieceLength} is not positive`,
    );
  }
  if (pieceLength > MAX_PIECE_LENGTH) {
    throw new MetainfoError(
      "METAINFO_PIECE_LENGTH",
      "info.piece length",
      `${pieceLength} is more than the ${MAX_PIECE_LENGTH}-byte limit`,
    );
  }
  if ((pieceLength & (pieceLength - 1)) !== 0) {
    warnings.push(`piece length ${pieceLength} is not a power of two`);
  }

  // Name: prefer name.utf-8 when it is valid UTF-8, as libtorrent does.
  const nameBytes = preferUtf8(info, "name");
  if (nameBytes === undefined)
    throw new MetainfoError("METAINFO_MISSING_FIELD", "info.name", "missing");
  const name = sanitizeComponent(decodeUtf8Lossy(nameBytes)) ?? infoHashHex;

  const files: TorrentFile[] = [];
  const rawFiles = info.get("files");
  const singleLength = info.get("length");
  let multiFile: boolean;
  if (rawFiles !== undefined) {
    if (!Array.isArray(rawFiles))
      throw new MetainfoError("METAINFO_WRONG_TYPE", "info.files", "not a list");
    if (rawFiles.length > MAX_FILES) {
      throw new MetainfoError(
        "METAINFO_TOO_MANY_FILES",
        "info.files",
        `more than ${MAX_FILES} files`,
      );
    }
    if (rawFiles.length === 0)
      throw new MetainfoError("METAINFO_EMPTY", "info.files", "the list is empty");
    multiFile = true;
    let offset = 0;
    for (let i = 0; i < rawFiles.length; i++) {
      const field = `info.files[${i}]`;
      const f = rawFiles[i]!;
      if (!(f instanceof BDict))
        throw new MetainfoError("METAINFO_WRONG_TYPE", field, "not a dictionary");
      const attr = attrOf(f.get("attr"));
      const isSymlink = attr.includes("l");
      const padding = attr.includes("p");
      const length = fileLength(
        f.get("length"),
        `${field}.length`,
        isSymlink || padding ? 0 : undefined,
      );
      let components: string[];
      const rawPath = preferUtf8List(f, "path", `${field}.path`);
      if (rawPath === undefined) {
        if (!padding) throw new MetainfoError("METAINFO_MISSING_FIELD", `${field}.path`, "missing");
        components = [".pad", String(length)];
      } else {
        components = rawPath.map(decodeUtf8Lossy);
      }
      const path = sanitizePath(components);
      if (path.length === 0) path.push("_");
      const file: TorrentFile = {
        path: [name, ...path],
        length,
        offset,
        padding,
        executable: attr.includes("x"),
        hidden: attr.includes("h"),
      };
      if (isSymlink) {
        const target = preferUtf8List(f, "symlink path", `${field}.symlink path`);
        if (target !== undefined) file.symlinkTarget = sanitizePath(target.map(decodeUtf8Lossy));
      }
      files.push(file);
      offset += length;
      if (!Number.isSafeInteger(offset)) {
        throw new MetainfoError(
          "METAINFO_LENGTH",
          "info.files",
          "total length is beyond 2^53 bytes",
        );
      }
    }
    const paths = files.map((f) => f.path);
    resolveDuplicatePaths(
      paths,
      files.map((f) => f.padding),
    );
    for (let i = 0; i < files.length; i++) files[i]!.path = paths[i]!;
  } else if (singleLength !== undefined) {
    multiFile = false;
    const length = fileLength(singleLength, "info.length");
    const attr = attrOf(info.get("attr"));
    files.push({
      path: [name],
      length,
      offset: 0,
      padding: false,
      executable: attr.includes("x"),
      hidden: attr.includes("h"),
    });
  } else {
    throw new MetainfoError(
      "METAINFO_MISSING_FIELD",
      "info.length",
      "neither 'length' nor 'files' is present",
    );
  }

  const length =
    files.length === 0 ? 0 : files[files.length - 1]!.offset + files[files.length - 1]!.length;
  if (length === 0)
    throw new MetainfoError(
      "METAINFO_EMPTY",
      multiFile ? "info.files" : "info.length",
      "the torrent has no data",
    );

  if (pieces === undefined)
    throw new MetainfoError("METAINFO_MISSING_FIELD", "info.pieces", "missing");
  if (!(pieces instanceof Uint8Array))
    throw new MetainfoError("METAINFO_WRONG_TYPE", "info.pieces", "not a byte string");
  if (pieces.length % HASH_LEN !== 0) {
    throw new MetainfoError(
      "METAINFO_PIECES",
      "info.pieces",
      `length ${pieces.length} is not a multiple of 20`,
    );
  }
  const pieceCount = pieces.length / HASH_LEN;
  if (pieceCount > MAX_PIECES) {
    throw new MetainfoError(
      "METAINFO_TOO_MANY_PIECES",
      "info.pieces",
      `${pieceCount} pieces, more than the limit of ${MAX_PIECES}`,
    );
  }
  const expected = Math.ceil(length / pieceLength);
  if (pieceCount !== expected) {
    throw new MetainfoError(
      "METAINFO_PIECES",
      "info.pieces",
      `${pieceCount} piece hashes, but ${length} bytes in pieces of ${pieceLength} need ${expected}`,
    );
  }

  const priv = info.get("private");
  return {
    infoHash,
    infoHashHex,
    ...(infoHashV2 !== undefined ? { infoHashV2 } : {}),
    infoBytes: raw,
    name,
    multiFile,
    pieceLength,
    pieceCount,
    pieceHashes: pieces,
    length,
    files,
    private: typeof priv === "number" ? priv !== 0 : typeof priv === "bigint",
    warnings,
  };
}

function fileLength(v: BValue | undefined, field: string, dflt?: number): number {
  if (v === undefined) {
    if (dflt !== undefined) return dflt;
    throw new MetainfoError("METAINFO_MISSING_FIELD", field, "missing");
  }
  if (typeof v === "bigint")
    throw new MetainfoError("METAINFO_LENGTH", field, `${v} is beyond 2^53 bytes`);
  if (typeof v !== "number")
    throw new MetainfoError("METAINFO_WRONG_TYPE", field, "not an integer");
  if (v < 0) throw new MetainfoError("METAINFO_LENGTH", field, `${v} is negative`);
  return v;
}

function attrOf(v: BValue | undefined): string {
  return v instanceof Uint8Array ? Buffer.from(v).toString("latin1") : "";
}

/** The bytes of `key`, or of `key.utf-8` when that is present and valid UTF-8. */
function preferUtf8(d: BDict, key: string): Uint8Array | undefined {
  const alt = d.get(`${key}.utf-8`);
  if (alt instanceof Uint8Array && isValidUtf8(alt)) return alt;
  const v = d.get(key);
  return v instanceof Uint8Array ? v : undefined;
}

/** A list of byte strings under `key` (or `key.utf-8`); wrong types are errors naming the field. */
function preferUtf8List(d: BDict, key: string, field: string): Uint8Array[] | undefined {
  const alt = d.get(`${key}.utf-8`);
  if (Array.isArray(alt) && alt.every((c) => c instanceof Uint8Array && isValidUtf8(c)))
    return alt as Uint8Array[];
  const v = d.get(key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw new MetainfoError("METAINFO_WRONG_TYPE", field, "not a list");
  for (let i = 0; i < v.length; i++) {
    if (!(v[i] instanceof Uint8Array))
      throw new MetainfoError("METAINFO_WRONG_TYPE", `${field}[${i}]`, "not a string");
  }
  return v as Uint8Array[];
}

function optionalText<K extends string>(d: BDict, key: string, as?: K): Record<string, string> {
  const bytes = preferUtf8(d, key);
  if (bytes === undefined) return {};
  return { [as ?? key]: decodeUtf8Lossy(bytes) };
}

/** Tracker URLs: usable strings only, trimmed, duplicates dropped; never fatal (libtorrent is lenient too). */
function parseTrackers(root: BDict): string[][] {
  const seen = new Set<string>();
  const take = (v: BValue | undefined): string | undefined => {
    if (!(v instanceof Uint8Array)) return undefined;
    const url = decodeUtf8Lossy(v).trim();
    if (url === "" || seen.has(url) || /[\u0000-\u001f\s]/.test(url)) return undefined;
    seen.add(url);
    return url;
  };
  const tiers: string[][] = [];
  const list = root.get("announce-list");
  if (Array.isArray(list)) {
    for (const tier of list) {
      if (!Array.isArray(tier)) continue;
      const urls = tier.map(take).filter((u): u is string => u !== undefined);
      if (urls.length > 0) tiers.push(urls);
    }
  }
  if (tiers.length === 0) {
    const one = take(root.get("announce"));
    if (one !== undefined) tiers.push([one]);
  }
  return tiers;
}

/** `url-list` / `httpseeds`: a string or a list of strings. */
function stringList(v: BValue | undefined): string[] {
  const items = v instanceof Uint8Array ? [v] : Array.isArray(v) ? v : [];
  const out: string[] = [];
  for (const item of items) {
    if (!(item instanceof Uint8Array)) continue;
    const s = decodeUtf8Lossy(item).trim();
    if (s !== "" && !out.includes(s)) out.push(s);
  }
  return out;
}
