/**
 * The hostile torrent corpus: each entry builds one .torrent and states, by hand, what parsing
 * it must give — the exact MetainfoError code and field (and the bencode cause), or the
 * sanitised outcome. `write-corpus.ts` writes the small ones to test/fixtures/hostile/ with an
 * index.json; the big ones (megabytes) are built when the test runs.
 */
import { createHash } from "node:crypto";
import { type Encodable, encode } from "../../src/bencode/index.js";

export type Expect =
  | { error: { code: string; field: string; cause?: string } }
  | {
      ok: {
        /** Sanitised name; `"<infohash>"` stands for the info-hash in hex. */
        name: string;
        /** Every file's sanitised path joined with `/`, in torrent order (padding included). */
        files: string[];
        /** Sanitised BEP 47 symlink targets by file index. */
        symlinks?: Record<number, string[]>;
        /** The info-hash, computed over the info dictionary's bytes as they are in the file. */
        infoHash?: string;
        length?: number;
        pieces?: number;
      };
    };

export interface HostileEntry {
  /** File name under test/fixtures/hostile/. */
  file: string;
  why: string;
  /** Too big to check in: built when the test runs. */
  generated?: boolean;
  build(): Uint8Array;
  expect: Expect | (() => Expect);
}

const te = new TextEncoder();
const raw = (s: string) => te.encode(s);
const cat = (...parts: (string | Uint8Array)[]) =>
  Uint8Array.from(Buffer.concat(parts.map((p) => (typeof p === "string" ? raw(p) : p))));

/** A valid single-file info dictionary of `length` bytes, with overrides. */
function single(
  info: Record<string, Encodable | undefined> = {},
  top: Record<string, Encodable> = {},
) {
  const length = typeof info.length === "number" ? info.length : 5;
  const pl =
    typeof info["piece length"] === "number" && info["piece length"] > 0
      ? info["piece length"]
      : 16384;
  return encode({
    announce: "http://tracker.example/announce",
    ...top,
    info: {
      name: "a.txt",
      length,
      "piece length": 16384,
      pieces: new Uint8Array(Math.max(1, Math.ceil(length / pl)) * 20),
      ...info,
    },
  });
}

/** A valid multi-file torrent named "dir"; `files` are [path, length, extra keys]. */
function multi(
  files: [Encodable[], number, Record<string, Encodable>?][],
  info: Record<string, Encodable | undefined> = {},
) {
  const total = files.reduce((s, [, l, extra]) => s + (extra?.attr === "l" ? 0 : l), 0);
  return encode({
    info: {
      name: "dir",
      "piece length": 16384,
      pieces: new Uint8Array(Math.max(1, Math.ceil(total / 16384)) * 20),
      files: files.map(([path, length, extra]) => ({ path, length, ...extra })),
      ...info,
    },
  });
}

const err = (code: string, field: string, cause?: string): Expect => ({
  error: { code, field, ...(cause ? { cause } : {}) },
});

const PIECES_1 = new Uint8Array(20);

export const CORPUS: HostileEntry[] = [
  // ---- bencode-level attacks -------------------------------------------------------------------
  {
    file: "deep-nesting.torrent",
    why: "1 000 nested lists: must fail at the depth limit (100), not overflow the stack",
    build: () => cat("d4:info", "l".repeat(1000), "e".repeat(1000), "e"),
    expect: err("METAINFO_BENCODE", "", "BENCODE_DEPTH_LIMIT"),
  },
  {
    file: "string-length-huge.torrent",
    why: "a string claiming 99 999 999 999 bytes: refused before allocating",
    build: () => cat("d4:info99999999999:x", "e"),
    expect: err("METAINFO_BENCODE", "", "BENCODE_STRING_LENGTH"),
  },
  {
    file: "string-length-negative.torrent",
    why: "a string length of -1",
    build: () => cat("d4:info-1:xe"),
    expect: err("METAINFO_BENCODE", "", "BENCODE_INVALID_BYTE"),
  },
  {
    file: "string-length-leading-zero.torrent",
    why: "a string length with a leading zero (04:name)",
    build: () => cat("d4:infod04:name1:ae"),
    expect: err("METAINFO_BENCODE", "", "BENCODE_LEADING_ZERO"),
  },
  {
    file: "integer-leading-zero.torrent",
    why: "i016384e as the piece length",
    build: () =>
      cat("d4:infod6:lengthi5e4:name1:a12:piece lengthi016384e6:pieces20:", PIECES_1, "ee"),
    expect: err("METAINFO_BENCODE", "", "BENCODE_LEADING_ZERO"),
  },
  {
    file: "integer-negative-zero.torrent",
    why: "i-0e",
    build: () => cat("d4:infod6:lengthi-0eee"),
    expect: err("METAINFO_BENCODE", "", "BENCODE_NEGATIVE_ZERO"),
  },
  {
    file: "integer-too-long.torrent",
    why: "a 40-digit integer",
    build: () => cat(`d4:infod6:lengthi${"9".repeat(40)}eee`),
    expect: err("METAINFO_BENCODE", "", "BENCODE_INTEGER_TOO_LONG"),
  },
  {
    file: "duplicate-key.torrent",
    why: "two 'length' keys in info (which one would a client use?)",
    build: () => cat("d4:infod6:lengthi5e6:lengthi6eee"),
    expect: err("METAINFO_BENCODE", "", "BENCODE_DUPLICATE_KEY"),
  },
  {
    file: "trailing-garbage.torrent",
    why: "bytes after the top-level dictionary",
    build: () => cat(single(), "GARBAGE"),
    expect: err("METAINFO_BENCODE", "", "BENCODE_TRAILING_BYTES"),
  },
  {
    file: "truncated.torrent",
    why: "a file cut short",
    build: () => single().subarray(0, 60),
    expect: err("METAINFO_BENCODE", "", "BENCODE_UNEXPECTED_END"),
  },
  // ---- structure and lengths -------------------------------------------------------------------
  {
    file: "info-not-dict.torrent",
    why: "info is a list",
    build: () => encode({ info: ["x"] }),
    expect: err("METAINFO_WRONG_TYPE", "info"),
  },
  {
    file: "no-name.torrent",
    why: "info without name",
    build: () => single({ name: undefined }),
    expect: err("METAINFO_MISSING_FIELD", "info.name"),
  },
  {
    file: "length-negative.torrent",
    why: "a negative file length",
    build: () => single({ length: -5, pieces: PIECES_1 }),
    expect: err("METAINFO_LENGTH", "info.length"),
  },
  {
    file: "length-beyond-2p53.torrent",
    why: "a length of 2^53 + 1 (not exact as a double)",
    build: () => single({ length: 2n ** 53n + 1n, pieces: PIECES_1 }),
    expect: err("METAINFO_LENGTH", "info.length"),
  },
  {
    file: "length-2p64.torrent",
    why: "a length of 2^64 (wraps to 0 in a u64)",
    build: () => multiWith([["a"], 1], [["b"], 2n ** 64n]),
    expect: err("METAINFO_LENGTH", "info.files[1].length"),
  },
  {
    file: "total-length-overflow.torrent",
    why: "two files of 2^53 - 1 bytes: the sum is beyond 2^53",
    build: () => multiWith([["a"], Number.MAX_SAFE_INTEGER], [["b"], Number.MAX_SAFE_INTEGER]),
    expect: err("METAINFO_LENGTH", "info.files"),
  },
  {
    file: "file-length-negative.torrent",
    why: "the second file's length is -1",
    build: () => multiWith([["a"], 10], [["b"], -1]),
    expect: err("METAINFO_LENGTH", "info.files[1].length"),
  },
  {
    file: "piece-length-zero.torrent",
    why: "piece length 0 (division by zero elsewhere)",
    build: () => single({ "piece length": 0 }),
    expect: err("METAINFO_PIECE_LENGTH", "info.piece length"),
  },
  {
    file: "piece-length-negative.torrent",
    why: "piece length -16384",
    build: () => single({ "piece length": -16384 }),
    expect: err("METAINFO_PIECE_LENGTH", "info.piece length"),
  },
  {
    file: "piece-length-beyond-2p53.torrent",
    why: "piece length 2^64",
    build: () => single({ "piece length": 2n ** 64n }),
    expect: err("METAINFO_WRONG_TYPE", "info.piece length"),
  },
  {
    file: "pieces-not-multiple-of-20.torrent",
    why: "pieces of 19 bytes",
    build: () => single({ pieces: new Uint8Array(19) }),
    expect: err("METAINFO_PIECES", "info.pieces"),
  },
  {
    file: "pieces-too-many.torrent",
    why: "two hashes for one piece of data",
    build: () => single({ pieces: new Uint8Array(40) }),
    expect: err("METAINFO_PIECES", "info.pieces"),
  },
  {
    file: "pieces-empty.torrent",
    why: "no hashes at all",
    build: () => single({ pieces: new Uint8Array(0) }),
    expect: err("METAINFO_PIECES", "info.pieces"),
  },
  {
    file: "files-empty.torrent",
    why: "an empty files list",
    build: () =>
      encode({ info: { name: "d", "piece length": 16384, pieces: PIECES_1, files: [] } }),
    expect: err("METAINFO_EMPTY", "info.files"),
  },
  {
    file: "path-not-list.torrent",
    why: "a path that is a string",
    build: () => multi([["a", 1]] as never),
    expect: err("METAINFO_WRONG_TYPE", "info.files[0].path"),
  },
  {
    file: "path-component-integer.torrent",
    why: "a path component that is an integer",
    build: () => multi([[["a", 7], 1]]),
    expect: err("METAINFO_WRONG_TYPE", "info.files[0].path[1]"),
  },
  {
    file: "v2-only.torrent",
    why: "a v2-only torrent (no pieces)",
    build: () =>
      encode({ info: { name: "a", "meta version": 2, "piece length": 16384, "file tree": {} } }),
    expect: err("METAINFO_UNSUPPORTED", "info.meta version"),
  },
  // ---- accepted, with a sanitised outcome ------------------------------------------------------
  {
    file: "proto-keys.torrent",
    why: "__proto__ and constructor keys everywhere: data, never prototypes",
    build: () =>
      cat(
        "d9:__proto__d8:polluted3:yese11:constructori1e4:infod9:__proto__d8:pollutedi1ee",
        "6:lengthi5e4:name5:a.txt12:piece lengthi16384e6:pieces20:",
        PIECES_1,
        "ee",
      ),
    expect: () => ({ ok: { name: "a.txt", files: ["a.txt"], length: 5, pieces: 1 } }),
  },
  {
    file: "unsorted-info.torrent",
    why: "info keys out of order: the info-hash is over the bytes as they are, not a re-encoding",
    build: () => cat("d4:info", UNSORTED_INFO, "e"),
    expect: () => ({
      ok: {
        name: "a.txt",
        files: ["a.txt"],
        infoHash: createHash("sha1").update(UNSORTED_INFO).digest("hex"),
      },
    }),
  },
  {
    file: "name-traversal.torrent",
    why: "name ../../evil",
    build: () => single({ name: "../../evil" }),
    expect: { ok: { name: ".._.._evil", files: [".._.._evil"] } },
  },
  {
    file: "name-dotdot.torrent",
    why: "name .. sanitises to nothing: the info-hash names it",
    build: () => single({ name: ".." }),
    expect: { ok: { name: "<infohash>", files: ["<infohash>"] } },
  },
  {
    file: "name-absolute.torrent",
    why: "name /etc/passwd",
    build: () => single({ name: "/etc/passwd" }),
    expect: { ok: { name: "_etc_passwd", files: ["_etc_passwd"] } },
  },
  {
    file: "name-drive-letter.torrent",
    why: "name C:\\Windows\\system32",
    build: () => single({ name: "C:\\Windows\\system32" }),
    expect: { ok: { name: "C__Windows_system32", files: ["C__Windows_system32"] } },
  },
  {
    file: "name-utf8-traversal.torrent",
    why: "name.utf-8 (preferred over name) is ../x",
    build: () => single({ name: "ok.txt", "name.utf-8": "../x" }),
    expect: { ok: { name: ".._x", files: [".._x"] } },
  },
  {
    file: "paths-traversal.torrent",
    why: "files with .., absolute paths, drive letters, backslashes and empty components",
    build: () =>
      multi([
        [["..", "..", "..", "etc", "passwd"], 1],
        [["/etc/shadow"], 1],
        [["/", "root", ".ssh"], 1],
        [["C:", "Windows", "evil.dll"], 1],
        [["C:\\Windows\\evil.exe"], 1],
        [["..\\..\\up.txt"], 1],
        [["a", "", ".", "b"], 1],
        [[".."], 1],
        [["new\nline\u0000nul"], 1],
      ]),
    expect: {
      ok: {
        name: "dir",
        files: [
          "dir/etc/passwd",
          "dir/_etc_shadow",
          "dir/_/root/.ssh",
          "dir/C_/Windows/evil.dll",
          "dir/C__Windows_evil.exe",
          "dir/.._.._up.txt",
          "dir/a/b",
          // Empty after sanitising, so named "_"; but "_" is already a directory (of /root/.ssh).
          "dir/_.1",
          "dir/new_line_nul",
        ],
      },
    },
  },
  {
    file: "paths-utf8-traversal.torrent",
    why: "path.utf-8 (preferred over path) climbs out",
    build: () => multi([[["ok.txt"], 1, { "path.utf-8": ["..", "..", "x"] }]]),
    expect: { ok: { name: "dir", files: ["dir/x"] } },
  },
  {
    file: "symlink-outside.torrent",
    why: "BEP 47 symlinks pointing outside the torrent, relative and absolute",
    build: () =>
      multi([
        [["a"], 3],
        [["up"], 0, { attr: "l", "symlink path": ["..", "..", "..", "etc"] }],
        [["abs"], 0, { attr: "l", "symlink path": ["/", "etc", "shadow"] }],
      ]),
    expect: {
      ok: {
        name: "dir",
        files: ["dir/a", "dir/up", "dir/abs"],
        symlinks: { 1: ["etc"], 2: ["_", "etc", "shadow"] },
      },
    },
  },
  {
    file: "duplicate-paths.torrent",
    why: "the same path three times, and a file that is also a directory",
    build: () =>
      multi([
        [["a.txt"], 1],
        [["a.txt"], 1],
        [["a.txt"], 1],
        [["x"], 1],
        [["x", "y"], 1],
        [["A.txt"], 1],
      ]),
    expect: {
      ok: {
        name: "dir",
        files: ["dir/a.txt", "dir/a.1.txt", "dir/a.2.txt", "dir/x.1", "dir/x/y", "dir/A.txt"],
      },
    },
  },
  {
    file: "duplicate-after-sanitising.torrent",
    why: "paths that differ only before sanitising (../a and a) collide after",
    build: () =>
      multi([
        [["a"], 1],
        [["..", "a"], 1],
        [["/a"], 1],
        [["_a"], 1],
      ]),
    expect: { ok: { name: "dir", files: ["dir/a", "dir/a.1", "dir/_a", "dir/_a.1"] } },
  },
  {
    file: "big-integers-elsewhere.torrent",
    why: "creation date 2^64 and private 2^70: kept exact or ignored, never rounded",
    build: () => single({ private: 2n ** 70n }, { "creation date": 2n ** 64n }),
    expect: { ok: { name: "a.txt", files: ["a.txt"] } },
  },
  // ---- size and count ----------------------------------------------------------------------------
  {
    file: "pieces-400000.torrent",
    why: "400 000 pieces (8 MB of hashes): parses fast",
    generated: true,
    build: () => single({ length: 400_000 * 16384, pieces: new Uint8Array(400_000 * 20) }),
    expect: { ok: { name: "a.txt", files: ["a.txt"], length: 400_000 * 16384, pieces: 400_000 } },
  },
  {
    file: "size-20mb.torrent",
    why: "a 20 MB .torrent (1 048 576 pieces), under the 64 MiB cap: handled",
    generated: true,
    build: () => single({ length: 2 ** 20 * 16384, pieces: new Uint8Array(2 ** 20 * 20) }),
    expect: { ok: { name: "a.txt", files: ["a.txt"], length: 2 ** 20 * 16384, pieces: 2 ** 20 } },
  },
  {
    file: "size-65mib.torrent",
    why: "a .torrent over the 64 MiB cap: refused before decoding",
    generated: true,
    build: () => single({ comment: new Uint8Array(65 * 2 ** 20) }),
    expect: err("METAINFO_TOO_LARGE", ""),
  },
  {
    file: "pieces-over-cap.torrent",
    why: "2 097 153 pieces, one over the cap",
    generated: true,
    build: () =>
      single({ length: (2 ** 21 + 1) * 16384, pieces: new Uint8Array((2 ** 21 + 1) * 20) }),
    expect: err("METAINFO_TOO_MANY_PIECES", "info.pieces"),
  },
  {
    file: "duplicates-20000.torrent",
    why: "20 000 copies of one path (took 28 s for 16 000 before the fix)",
    generated: true,
    build: () => multi(Array.from({ length: 20_000 }, () => [["a.txt"], 1] as [string[], number])),
    expect: {
      ok: {
        name: "dir",
        files: ["dir/a.txt", ...Array.from({ length: 19_999 }, (_, i) => `dir/a.${i + 1}.txt`)],
      },
    },
  },
  {
    file: "path-100000-deep.torrent",
    why: "one path of 100 000 components (ran out of memory before the fix)",
    generated: true,
    build: () => multi([[Array(100_000).fill("ab"), 1]]),
    expect: { ok: { name: "dir", files: [`dir/${Array(100_000).fill("ab").join("/")}`] } },
  },
];

const UNSORTED_INFO = cat(
  "d4:name5:a.txt6:lengthi5e12:piece lengthi16384e6:pieces20:",
  PIECES_1,
  "e",
);

function multiWith(...files: [Encodable[], Encodable][]): Uint8Array {
  return encode({
    info: {
      name: "dir",
      "piece length": 16384,
      pieces: PIECES_1,
      files: files.map(([path, length]) => ({ path, length })),
    },
  });
}
