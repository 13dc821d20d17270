/** Fuzz target: parseTorrent, with the invariants a TorrentMeta promises when it parses. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import path from "node:path";
import fc from "fast-check";
import { type Encodable, encode } from "../../../src/bencode/index.js";
import {
  MAX_COMPONENT_BYTES,
  MetainfoError,
  parseTorrent,
  type TorrentMeta,
} from "../../../src/metainfo/index.js";
import { bytesCodec, type FuzzTarget } from "../engine.js";
import {
  applyTreeMutation,
  arbText,
  arbTreeMutation,
  cloneTree,
  HOSTILE_NUMBERS,
  mutatedBytes,
} from "../mutate.js";

/** Path components that have broken other clients. */
export const HOSTILE_COMPONENTS = [
  "..",
  ".",
  "",
  "/",
  "\\",
  "../..",
  "..\\..",
  "/etc/passwd",
  "C:",
  "C:\\Windows",
  "c:x",
  "a\u0000b",
  "a\nb",
  "\u007f",
  "CON",
  "a".repeat(300),
  `${"\u00e9".repeat(200)}.txt`,
  "\u{1F600}",
];

const component = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("a", "b.txt", "dir", "x.mkv") },
  { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_COMPONENTS) },
  { weight: 1, arbitrary: arbText(8) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 8 }) },
);

const fileEntry = fc.record(
  {
    path: fc.array(component, { minLength: 1, maxLength: 4 }),
    length: fc.oneof(fc.integer({ min: 0, max: 70_000 }), fc.constant(0)),
    attr: fc.constantFrom("", "p", "l", "x", "h", "px"),
    "symlink path": fc.array(component, { maxLength: 3 }),
    "path.utf-8": fc.array(component, { minLength: 1, maxLength: 3 }),
  },
  { requiredKeys: ["path", "length", "attr"] },
);

const PIECE_LENGTHS = [16384, 32768, 65536, 1 << 20];

/** A torrent that parses (hostile names included, which parse sanitised). */
export const arbTorrent: fc.Arbitrary<Record<string, Encodable>> = fc
  .record({
    name: component,
    pieceLength: fc.oneof(
      fc.constantFrom(...PIECE_LENGTHS),
      fc.integer({ min: 1000, max: 100_000 }),
    ),
    files: fc.option(fc.array(fileEntry, { minLength: 1, maxLength: 8 }), { nil: undefined }),
    length: fc.integer({ min: 1, max: 200_000 }),
    top: fc.record(
      {
        announce: fc.constantFrom("http://t/a", "udp://t:1", " ", "x\ny"),
        "announce-list": fc.array(
          fc.array(fc.constantFrom("http://a/", "udp://b:1", ""), { maxLength: 3 }),
          {
            maxLength: 3,
          },
        ),
        "url-list": fc.oneof(fc.constant("http://ws/"), fc.array(fc.constantFrom("http://w/", ""))),
        comment: arbText(10),
        "creation date": fc.oneof(fc.integer(), fc.constant(2n ** 64n)),
        "created by": fc.uint8Array({ maxLength: 6 }),
      },
      { requiredKeys: [] },
    ),
    private: fc.option(fc.constantFrom(0, 1, 2n ** 70n), { nil: undefined }),
    nameUtf8: fc.option(component, { nil: undefined }),
  })
  .map((t) => {
    const total = t.files
      ? t.files.reduce((s, f) => s + (f.attr.includes("l") ? 0 : f.length), 0)
      : t.length;
    const files = t.files?.map((f) => {
      const out: Record<string, Encodable> = { path: f.path, length: f.length };
      if (f.attr !== "") out.attr = f.attr;
      if (f.attr.includes("l")) {
        out.length = 0;
        out["symlink path"] = f["symlink path"] ?? [];
      }
      if (f["path.utf-8"] !== undefined) out["path.utf-8"] = f["path.utf-8"];
      return out;
    });
    const info: Record<string, Encodable> = {
      name: t.name,
      "piece length": t.pieceLength,
      pieces: new Uint8Array(Math.max(1, Math.ceil(total / t.pieceLength)) * 20),
    };
    if (files) info.files = files;
    else info.length = t.length;
    if (t.private !== undefined) info.private = t.private;
    if (t.nameUtf8 !== undefined) info["name.utf-8"] = t.nameUtf8;
    return { ...t.top, info };
  });

const hostileValues: fc.Arbitrary<Encodable> = fc.oneof(
  fc.constantFrom<Encodable>(0, -1, 1, 2n ** 53n, 2n ** 64n, -(2n ** 64n), "", new Uint8Array(19)),
  fc.constantFrom(...HOSTILE_COMPONENTS),
  fc.array(fc.constantFrom(...HOSTILE_COMPONENTS), { maxLength: 4 }),
  fc.constantFrom(...HOSTILE_NUMBERS).map((s) => (s === "" || s === "-0" ? 0 : BigInt(s))),
);

const valid = arbTorrent.map((t) => encode(t));

const dictMutated = fc
  .tuple(arbTorrent, fc.array(arbTreeMutation(hostileValues), { minLength: 1, maxLength: 4 }))
  .map(([t, ms]) => {
    const tree = cloneTree(t);
    for (const m of ms) applyTreeMutation(tree, m);
    return encode(tree);
  });

/** Everything TorrentMeta promises (docs/ARCHITECTURE.md, metainfo/). */
function checkMeta(m: TorrentMeta): void {
  assert.equal(
    Buffer.from(createHash("sha1").update(m.infoBytes).digest()).toString("hex"),
    m.infoHashHex,
  );
  assert.ok(Number.isSafeInteger(m.length) && m.length > 0);
  assert.ok(Number.isSafeInteger(m.pieceLength) && m.pieceLength > 0);
  assert.equal(m.pieceCount, Math.ceil(m.length / m.pieceLength));
  assert.equal(m.pieceHashes.length, m.pieceCount * 20);
  let offset = 0;
  const root = "/download/root";
  // Directories and files as node ids (parent id + name), so a deep path costs linear time.
  const ids = new Map<string, number>();
  const idOf = (parent: number, name: string) => {
    const k = `${parent}/${name}`;
    let id = ids.get(k);
    if (id === undefined) {
      id = ids.size + 1;
      ids.set(k, id);
    }
    return id;
  };
  const dirs = new Set<number>();
  const files = new Set<number>();
  for (const f of m.files) {
    assert.equal(f.offset, offset);
    assert.ok(Number.isSafeInteger(f.length) && f.length >= 0);
    offset += f.length;
    assert.ok(f.path.length > 0, "empty path");
    for (const c of [...f.path, ...(f.symlinkTarget ?? [])]) {
      assert.ok(c !== "" && c !== "." && c !== "..", `bad component ${JSON.stringify(c)}`);
      assert.ok(
        !/[/\\\u0000-\u001f\u007f]/.test(c),
        `separator or control in ${JSON.stringify(c)}`,
      );
      assert.ok(!/^[A-Za-z]:/.test(c), `drive letter in ${JSON.stringify(c)}`);
      assert.ok(Buffer.byteLength(c) <= MAX_COMPONENT_BYTES, "component over 255 bytes");
    }
    if (f.path.length < 1000) assert.ok(path.resolve(root, ...f.path).startsWith(`${root}/`));
    let node = 0;
    for (let i = 0; i < f.path.length - 1; i++) {
      node = idOf(node, f.path[i]!);
      dirs.add(node);
    }
    const leaf = idOf(node, f.path[f.path.length - 1]!);
    if (!f.padding) {
      assert.ok(!files.has(leaf), `duplicate path ${f.path.join("/")}`);
      files.add(leaf);
    }
  }
  for (const leaf of files) assert.ok(!dirs.has(leaf), "a file is also a directory");
  assert.equal(offset, m.length);
  assert.equal(m.files[0]!.path[0], m.name);
}

export const metainfoTarget: FuzzTarget<Uint8Array> = {
  name: "metainfo",
  errors: [MetainfoError],
  codec: bytesCodec,
  quickRuns: 200,
  // Amplified inputs reach 100+ KiB; the invariant check itself costs about 0.5 ms per KiB.
  msPerKiB: 3,
  generators: [
    { name: "valid", arb: valid },
    { name: "dict-mutated", arb: dictMutated, weight: 3 },
    { name: "byte-mutated", arb: mutatedBytes(valid), weight: 2 },
    { name: "random", arb: fc.uint8Array({ maxLength: 300, size: "max" }) },
  ],
  run(input) {
    checkMeta(parseTorrent(input));
  },
};
