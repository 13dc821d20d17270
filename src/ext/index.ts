/**
 * Peer wire extensions, sans-I/O: BEP 10 (extension protocol), 9 (ut_metadata), 11 (ut_pex),
 * 6 (Fast: allowed-fast set and choke helpers), 21 (upload_only) and 54 (lt_donthave).
 * Pure encoders, decoders and state machines; time comes in as `now` (ms), nothing here touches a
 * socket or a timer. Decoders throw only {@link ExtError} on hostile bytes.
 *
 * How the peer connection (`src/peer/peer.ts`) and the torrent (`src/torrent/torrent.ts`) use
 * them — see also `docs/ARCHITECTURE.md`, "Extensions":
 *
 * **Handshake (BEP 10).** The torrent owns one {@link ExtensionRegistry} (no `ut_pex` for private
 * torrents); each `Peer` owns one {@link PeerExtensions}. When both sides set `RESERVED_EXTENDED`,
 * right after the BitTorrent handshake the peer sends
 * `{type:"extended", extId:0, payload: encodeExtHandshake({m: registry.localIds(), client, port,
 * reqq, yourIp: remote.host, metadataSize: server.metadataSize, uploadOnly})}`. Every incoming
 * `{type:"extended", extId, payload}` goes to `peerExt.decode(extId, payload, {pieceCount,
 * metadataSize})`; an {@link ExtError} is the peer's fault (disconnect). On `"handshake"` the
 * peer takes `reqq` (request queue cap), `port` (listen port, for PEX and reconnects),
 * `uploadOnly`, and tells the torrent which extensions the peer now has (`peerExt.supports`).
 * Outgoing extension messages: `peerExt.outgoing(name, payload)` → `encodeMessage(...)`, or
 * nothing when the peer lacks the extension.
 *
 * **Metadata (BEP 9).** A magnet torrent owns one {@link MetadataFetcher} keyed by `Peer`; on a
 * handshake with `ut_metadata` it calls `fetcher.addPeer(peer, h.metadataSize, now)`, on
 * `"ut_metadata"` data/reject `fetcher.onData`/`onReject`, on disconnect (or `ut_metadata`
 * switched off) `removePeer`, and `fetcher.tick(now)` from its timer. Actions: `request` → send
 * `encodeMetadataRequest(piece)` via `outgoing("ut_metadata", …)`; `ban` → disconnect and ban;
 * `hash_failed` → strike; `done` → `parseInfo(decode(info), info)`, then start the download and
 * `server.setInfo(info)`. Every torrent owns one {@link MetadataServer}: on a `request` message,
 * `server.onRequest(peer, piece).payload` goes back under the peer's ut_metadata id;
 * `server.removePeer(peer)` on disconnect.
 *
 * **PEX (BEP 11).** One {@link PexState} per connection that supports `ut_pex` (never on private
 * torrents). Every few seconds (e.g. from the peer tick) `pex.update(connectedListenAddrs, now)`
 * returns a payload at most once a minute; `"ut_pex"` payloads go through
 * `pex.receive(payload, now)` and the contacts to `torrent.addPeers` (dropped ones need no
 * action: they may still be reachable).
 *
 * **Fast (BEP 6).** With Fast negotiated, after the bitfield the peer sends `allowed_fast` for each
 * of `allowedFastSet(remote.host, infoHash, pieceCount)` (skipping pieces the peer has) and keeps
 * the set; {@link splitOnChoke} on choking, {@link answerWhileChoked} for requests while choked;
 * a {@link FastState} records the peer's `allowed_fast` and `suggest`.
 *
 * **upload_only (BEP 21), lt_donthave (BEP 54).** `"upload_only"` updates the peer's seed-like
 * flag (as the handshake key does); `"lt_donthave"` clears the piece from the peer's bitfield and
 * availability (without Fast, also cancel our requests of that piece as a choke would).
 * @module
 */

export { ipFromBytes, ipToBytes, isDialableIp } from "../util/ip.js";
export {
  ALLOWED_FAST_COUNT,
  allowedFastSet,
  answerWhileChoked,
  FastState,
  MAX_ALLOWED_FAST_RECEIVED,
  splitOnChoke,
} from "./allowed-fast.js";
export { decodeDontHave, encodeDontHave, LT_DONTHAVE } from "./donthave.js";
export { ExtError, type ExtErrorCode } from "./errors.js";
export {
  decodeExtHandshake,
  type ExtHandshake,
  encodeExtHandshake,
  MAX_CLIENT_NAME_LENGTH,
  MAX_EXT_HANDSHAKE_LENGTH,
  MAX_EXT_HANDSHAKE_TOKENS,
  MAX_REQQ,
  type OurExtHandshake,
} from "./handshake.js";
export {
  type MetadataAction,
  MetadataFetcher,
  type MetadataFetcherOptions,
} from "./metadata-fetcher.js";
export {
  type MetadataReply,
  MetadataServer,
  type MetadataServerOptions,
} from "./metadata-server.js";
export {
  DEFAULT_LOCAL_IDS,
  EXT_NAMES,
  type ExtDecodeContext,
  ExtensionRegistry,
  type ExtMessage,
  type ExtName,
  type OutgoingExtended,
  PeerExtensions,
} from "./registry.js";
export { decodeUploadOnly, encodeUploadOnly, UPLOAD_ONLY } from "./upload-only.js";
export {
  decodeMetadataMessage,
  encodeMetadataData,
  encodeMetadataReject,
  encodeMetadataRequest,
  MAX_METADATA_SIZE,
  METADATA_PIECE_SIZE,
  metadataPieceCount,
  metadataPieceLength,
  UT_METADATA,
  type UtMetadataDecodeOptions,
  type UtMetadataMessage,
  UtMetadataType,
} from "./ut-metadata.js";
export {
  type DecodedPex,
  decodePex,
  encodePex,
  MAX_PEX_RECEIVE,
  MAX_PEX_SEND,
  PEX_INTERVAL_MS,
  PEX_MIN_RECEIVE_INTERVAL_MS,
  PexFlag,
  type PexMessage,
  type PexPeer,
  PexState,
  type PexStateOptions,
  UT_PEX,
} from "./ut-pex.js";
