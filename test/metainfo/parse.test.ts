import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { encode } from "../../src/bencode/index.js";
import { MAX_PIECES, MetainfoError, parseTorrent } from "../../src/metainfo/index.js";
import { multiFile, pieceHashes, singleFile } from "./helpers.js";

function fails(bytes: Uint8Array, code: string, field?: string | RegExp) {
  assert.throws(
    () => parseTorrent(bytes),
    (e: unknown) => {
      assert.ok(e instanceof MetainfoError, `expected MetainfoError, got ${e}`);
      assert.equal(e.code, code, e.message);
      if (typeof field === "string") assert.equal(e.field, field);
      else if (field) assert.match(e.message, field);
      assert.ok(!e.message.includes("\n"), "one-line message");
      return true;
    },
  );
}

describe("parseTorrent: valid torrents", () => {
  it("parses a single-file torrent with all top-level fields", () => {
    const data = new TextEncoder().encode("hello world, this is data");
    const t = parseTorrent(
      encode({
        announce: "udp://a.example:80",
        "announce-list": [["udp://a.example:80", "http://b.example/ann"], ["http://c.example/ann"]],
        comment: "hi",
        "created by": "test",
        "creation date": 1700000000,
        "url-list": "http://ws.example/file",
        httpseeds: ["http://hs.example/seed"],
        info: {
          name: "a.txt",
          length: data.length,
          "piece length": 16,
          pieces: pieceHashes(data, 16),
          private: 1,
        },
      }),
    );
    assert.equal(t.name, "a.txt");
    assert.equal(t.multiFile, false);
    assert.equal(t.length, data.length);
    assert.equal(t.pieceCount, 2);
    assert.equal(t.pieceLength, 16);
    assert.deepEqual(
      t.files.map((f) => [f.path, f.length, f.offset]),
      [[["a.txt"], data.length, 0]],
    );
    assert.deepEqual(t.trackers, [
      ["udp://a.example:80", "http://b.example/ann"],
      ["http://c.example/ann"],
    ]);
    assert.deepEqual(t.webSeeds, ["http://ws.example/file"]);
    assert.deepEqual(t.httpSeeds, ["http://hs.example/seed"]);
    assert.equal(t.private, true);
    assert.equal(t.comment, "hi");
    assert.equal(t.createdBy, "test");
    assert.equal(t.creationDate, 1700000000);
    assert.deepEqual(t.warnings, []);
  });

  it("uses announce when announce-list is absent or empty", () => {
    assert.deepEqual(parseTorrent(singleFile()).trackers, [["http://tracker.example/announce"]]);
    assert.deepEqual(parseTorrent(singleFile({}, { "announce-list": [] })).trackers, [
      ["http://tracker.example/announce"],
    ]);
    assert.deepEqual(parseTorrent(singleFile({}, { "announce-list": [[], [1], "x"] })).trackers, [
      ["http://tracker.example/announce"],
    ]);
  });

  it("lays a multi-file torrent out under its name, with offsets, zero-length files and padding", () => {
    const t = parseTorrent(
      multiFile([
        [["sub", "a.bin"], 10000],
        [[".pad", "6384"], 6384, { attr: "p" }],
        [["empty"], 0],
        [["b.bin"], 20000, { attr: "xh" }],
      ]),
    );
    assert.equal(t.multiFile, true);
    assert.deepEqual(
      t.files.map((f) => [f.path.join("/"), f.length, f.offset, f.padding]),
      [
        ["dir/sub/a.bin", 10000, 0, false],
        ["dir/.pad/6384", 6384, 10000, true],
        ["dir/empty", 0, 16384, false],
        ["dir/b.bin", 20000, 16384, false],
      ],
    );
    assert.equal(t.files[3]!.executable, true);
    assert.equal(t.files[3]!.hidden, true);
    assert.equal(t.length, 36384);
    assert.equal(t.pieceCount, 3);
  });

  it("hashes the original bytes of an unsorted info dictionary", () => {
    const infoText = "d6:pieces20:AAAAAAAAAAAAAAAAAAAA4:name1:a12:piece lengthi16384e6:lengthi5ee";
    const bytes = new TextEncoder().encode(`d4:info${infoText}e`);
    const t = parseTorrent(bytes);
    assert.equal(t.infoHashHex, createHash("sha1").update(infoText).digest("hex"));
    assert.equal(Buffer.from(t.infoBytes).toString(), infoText);
  });

  it("prefers name.utf-8 and path.utf-8", () => {
    const t = parseTorrent(
      multiFile([[["x"], 1, { "path.utf-8": ["caf\u00e9"] }]], {
        name: Uint8Array.of(0xff),
        "name.utf-8": "r\u00e9pertoire",
      }),
    );
    assert.equal(t.name, "r\u00e9pertoire");
    assert.deepEqual(t.files[0]!.path, ["r\u00e9pertoire", "caf\u00e9"]);
  });

  it("warns, but accepts, a piece length that is not a power of two", () => {
    const t = parseTorrent(singleFile({ "piece length": 30000 }));
    assert.match(t.warnings[0]!, /not a power of two/);
  });

  it("parses 400 000 pieces fast", () => {
    const n = 400_000;
    const bytes = encode({
      info: {
        name: "big",
        length: n * 16384,
        "piece length": 16384,
        pieces: new Uint8Array(n * 20),
      },
    });
    const t0 = performance.now();
    const t = parseTorrent(bytes);
    const ms = performance.now() - t0;
    assert.equal(t.pieceCount, n);
    assert.ok(ms < 1000, `took ${ms} ms`);
  });

  it("reports the v2 hash of a hybrid torrent", () => {
    const t = parseTorrent(singleFile({ "meta version": 2, "file tree": {} }));
    assert.equal(t.infoHashV2?.length, 32);
  });
});

describe("parseTorrent: hostile and malformed torrents", () => {
  it("rejects bencode faults with the cause", () => {
    fails(new TextEncoder().encode("d4:info"), "METAINFO_BENCODE", /not a valid torrent file/);
    fails(
      new TextEncoder().encode(`${"l".repeat(200)}${"e".repeat(200)}`),
      "METAINFO_BENCODE",
      /nesting/,
    );
    fails(new TextEncoder().encode("i1e"), "METAINFO_WRONG_TYPE");
  });

  it("names the missing or mistyped field", () => {
    fails(encode({ announce: "x" }), "METAINFO_MISSING_FIELD", "info");
    fails(encode({ info: "x" }), "METAINFO_WRONG_TYPE", "info");
    fails(singleFile({ name: undefined }), "METAINFO_MISSING_FIELD", "info.name");
    fails(singleFile({ "piece length": undefined }), "METAINFO_MISSING_FIELD", "info.piece length");
    fails(singleFile({ "piece length": "16" }), "METAINFO_WRONG_TYPE", "info.piece length");
    fails(singleFile({ pieces: undefined }), "METAINFO_MISSING_FIELD", "info.pieces");
    fails(singleFile({ pieces: 5 }), "METAINFO_WRONG_TYPE", "info.pieces");
    fails(singleFile({ length: undefined }), "METAINFO_MISSING_FIELD", "info.length");
    fails(singleFile({ length: "5" }), "METAINFO_WRONG_TYPE", "info.length");
    fails(multiFile([[["a"], 1]], { files: "x" }), "METAINFO_WRONG_TYPE", "info.files");
    fails(multiFile([[["a"], 1]], { files: [5] }), "METAINFO_WRONG_TYPE", "info.files[0]");
    fails(
      multiFile([
        [["a"], 1],
        ["a" as never, 1],
      ]),
      "METAINFO_WRONG_TYPE",
      "info.files[1].path",
    );
    fails(
      multiFile([
        [["a"], 1],
        [[1], 1],
      ]),
      "METAINFO_WRONG_TYPE",
      "info.files[1].path[0]",
    );
  });

  it("rejects bad piece lengths", () => {
    fails(singleFile({ "piece length": 0 }), "METAINFO_PIECE_LENGTH", "info.piece length");
    fails(singleFile({ "piece length": -16384 }), "METAINFO_PIECE_LENGTH", "info.piece length");
    fails(singleFile({ "piece length": 2 ** 40 }), "METAINFO_PIECE_LENGTH", "info.piece length");
  });

  it("rejects negative, huge and inconsistent lengths", () => {
    fails(singleFile({ length: -1 }), "METAINFO_LENGTH", "info.length");
    fails(singleFile({ length: 2n ** 64n }), "METAINFO_LENGTH", "info.length");
    fails(
      multiFile([
        [["a"], 1],
        [["b"], -5],
      ]),
      "METAINFO_LENGTH",
      "info.files[1].length",
    );
    fails(
      multiFile(
        [
          [["a"], 2 ** 52],
          [["b"], 2 ** 52],
        ],
        { pieces: new Uint8Array(20) },
      ),
      "METAINFO_LENGTH",
      "info.files",
    );
    fails(singleFile({ length: 0, pieces: new Uint8Array(0) }), "METAINFO_EMPTY");
    fails(multiFile([[["a"], 1]], { files: [] }), "METAINFO_EMPTY", "info.files");
  });

  it("rejects pieces of the wrong size", () => {
    fails(singleFile({ pieces: new Uint8Array(19) }), "METAINFO_PIECES", /multiple of 20/);
    fails(singleFile({ pieces: new Uint8Array(40) }), "METAINFO_PIECES", /need 1/);
    fails(singleFile({ length: 16385 }), "METAINFO_PIECES", /need 2/);
  });

  it("caps the piece count", () => {
    const n = MAX_PIECES + 1;
    fails(
      singleFile({ length: n * 16384, pieces: new Uint8Array(n * 20) }),
      "METAINFO_TOO_MANY_PIECES",
      "info.pieces",
    );
  });

  it("rejects v2-only torrents clearly", () => {
    fails(
      singleFile({ "meta version": 2, pieces: undefined, "file tree": {} }),
      "METAINFO_UNSUPPORTED",
      /v2-only/,
    );
  });

  it("treats __proto__ keys as data", () => {
    const t = parseTorrent(singleFile({ __proto__: { length: 999 } } as never));
    assert.equal(t.length, 5);
    assert.equal(({} as Record<string, unknown>).length, undefined);
  });
});
