import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { MAX_MAGNET_LENGTH, MagnetError, parseTorrentId } from "../../src/magnet/index.js";
import { fromHex } from "../../src/types.js";
import { B32, HEX, HEX64, throwsMagnet } from "./helpers.js";

const empty = { trackers: [], webSeeds: [], peers: [] };

describe("parseTorrentId", () => {
  it("accepts a bare v1 hash in hex or base32, either case", () => {
    for (const id of [HEX, HEX.toUpperCase(), B32, B32.toLowerCase(), `  ${HEX}\n`]) {
      assert.deepEqual(parseTorrentId(id), { infoHashV1: fromHex(HEX), ...empty });
    }
  });

  it("accepts a bare 64-hex v2 hash", () => {
    assert.deepEqual(parseTorrentId(HEX64), { infoHashV2: fromHex(HEX64), ...empty });
    assert.deepEqual(parseTorrentId(HEX64.toUpperCase()), { infoHashV2: fromHex(HEX64), ...empty });
  });

  it("accepts a magnet URI", () => {
    const m = parseTorrentId(` magnet:?xt=urn:btih:${HEX}&dn=x `);
    assert.deepEqual(m, { infoHashV1: fromHex(HEX), name: "x", ...empty });
  });

  it("passes magnet errors through", () => {
    throwsMagnet(() => parseTorrentId("magnet:?dn=x"), "MAGNET_NO_INFOHASH");
    throwsMagnet(() => parseTorrentId("magnet:xt"), "MAGNET_BAD_SCHEME");
  });

  it("rejects anything else", () => {
    for (const id of [
      "",
      "   ",
      HEX.slice(1),
      `${HEX}0`,
      B32.slice(1),
      `1220${HEX64}`,
      `${HEX64}0`,
      "urn:btih:x",
      "/path/file.torrent",
    ]) {
      throwsMagnet(() => parseTorrentId(id), "MAGNET_BAD_TORRENT_ID", "torrent id");
    }
    throwsMagnet(() => parseTorrentId(" ".repeat(MAX_MAGNET_LENGTH + 1)), "MAGNET_TOO_LONG");
    throwsMagnet(() => parseTorrentId(null as unknown as string), "MAGNET_BAD_TORRENT_ID");
  });

  it("only ever throws MagnetError on random input", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        try {
          parseTorrentId(s);
        } catch (e) {
          assert.ok(e instanceof MagnetError, String(e));
        }
      }),
      { numRuns: 1000 },
    );
  });
});
