/**
 * Two peers' extension state machines talking through the real wire codec: the seed serves its
 * info dictionary, the magnet side fetches, verifies and parses it — the sequence the peer and
 * torrent wiring will drive.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BDict, decode } from "../../src/bencode/index.js";
import {
  ExtensionRegistry,
  encodeExtHandshake,
  encodeMetadataRequest,
  type MetadataAction,
  MetadataFetcher,
  MetadataServer,
  PeerExtensions,
} from "../../src/ext/index.js";
import { buildTorrent, parseInfo, parseTorrent } from "../../src/metainfo/index.js";
import { decodeMessages, encodeMessage } from "./wire-helpers.js";

describe("magnet metadata exchange through the wire codec", () => {
  it("fetches, verifies and parses a 3-piece info dictionary", () => {
    const pieceCount = 2000; // 40 000 bytes of piece hashes: three metadata pieces
    const torrent = parseTorrent(
      buildTorrent({
        name: "big",
        length: pieceCount * 16384,
        pieceLength: 16384,
        pieceHashes: Uint8Array.from({ length: pieceCount * 20 }, (_, i) => (i * 13) & 0xff),
      }),
    );
    const info = torrent.infoBytes;
    assert.ok(info.length > 2 * 16384);

    // Each side's registry; the seed uses different local ids to show ids are per side.
    const seedReg = new ExtensionRegistry(["ut_metadata"], new Map([["ut_metadata", 5]]));
    const leechReg = new ExtensionRegistry();
    const atSeed = new PeerExtensions(seedReg); // the seed's view of the leecher
    const atLeech = new PeerExtensions(leechReg); // the leecher's view of the seed
    const server = new MetadataServer<string>(info);
    const fetcher = new MetadataFetcher<string>(torrent.infoHash);

    // Handshakes cross over the wire.
    const wire = (m: { type: "extended"; extId: number; payload: Uint8Array }) => {
      const [msg] = decodeMessages(encodeMessage(m));
      assert.ok(msg?.type === "extended");
      return msg;
    };
    const seedHs = wire({
      type: "extended",
      extId: 0,
      payload: encodeExtHandshake({ m: seedReg.localIds(), metadataSize: server.metadataSize }),
    });
    const leechHs = wire({
      type: "extended",
      extId: 0,
      payload: encodeExtHandshake({ m: leechReg.localIds() }),
    });
    atSeed.decode(leechHs.extId, leechHs.payload);
    const hs = atLeech.decode(seedHs.extId, seedHs.payload);
    assert.ok(hs.type === "handshake");

    let done: Uint8Array | undefined;
    const queue: MetadataAction<string>[] = [
      ...fetcher.addPeer("seed", hs.handshake.metadataSize, 0),
    ];
    let rounds = 0;
    while (queue.length > 0 && rounds++ < 100) {
      const a = queue.shift()!;
      if (a.type === "done") done = a.info;
      if (a.type !== "request") continue;
      // leecher → seed: under the seed's id (5)
      const out = atLeech.outgoing("ut_metadata", encodeMetadataRequest(a.piece));
      assert.equal(out?.extId, 5);
      const req = atSeed.decode(wire(out!).extId, wire(out!).payload, {
        metadataSize: info.length,
      });
      assert.ok(req.type === "ut_metadata" && req.message.type === "request");
      // seed → leecher: under the leecher's id (2)
      const reply = atSeed.outgoing(
        "ut_metadata",
        server.onRequest("leech", req.message.piece).payload,
      );
      assert.equal(reply?.extId, 2);
      const got = atLeech.decode(wire(reply!).extId, wire(reply!).payload);
      assert.ok(got.type === "ut_metadata" && got.message.type === "data");
      const m = got.message;
      queue.push(...fetcher.onData("seed", m.piece, m.totalSize, m.data, rounds));
    }
    assert.ok(done, "metadata fetched");
    const dict = decode(done);
    assert.ok(dict instanceof BDict);
    const parsed = parseInfo(dict, done);
    assert.deepEqual(parsed.infoHash, torrent.infoHash);
    assert.equal(parsed.pieceCount, pieceCount);
  });
});
