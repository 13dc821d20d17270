/**
 * UDP tracker protocol (BEP 15, with BEP 41 URL data), sans-I/O: packet encoders and a decoder
 * that checks every length before reading.
 * @module
 */
import type { PeerAddress } from "../util/address.js";
import { TrackerError, trackerText } from "./errors.js";
import { parseCompactPeers } from "./peers.js";
import type { AnnounceEvent, AnnounceRequest, ScrapeCounts } from "./types.js";

export const UDP_PROTOCOL_ID = 0x41727101980n;
export const ACTION_CONNECT = 0;
export const ACTION_ANNOUNCE = 1;
export const ACTION_SCRAPE = 2;
export const ACTION_ERROR = 3;
/** Info-hashes per UDP scrape packet (BEP 15: about 74 fit). */
export const MAX_UDP_SCRAPE_HASHES = 74;
/** Longest BEP 41 URL data we send (several 255-byte options). */
export const MAX_URL_DATA = 1024;

const EVENT_CODE: Record<AnnounceEvent, number> = { none: 0, completed: 1, started: 2, stopped: 3 };

export function encodeConnect(transactionId: number): Uint8Array {
  const b = Buffer.alloc(16);
  b.writeBigUInt64BE(UDP_PROTOCOL_ID, 0);
  b.writeUInt32BE(ACTION_CONNECT, 8);
  b.writeUInt32BE(transactionId >>> 0, 12);
  return b;
}

/**
 * An announce packet (98 bytes, then BEP 41 options when `urlData` is given: the path and query
 * of the tracker's URL, split into options of at most 255 bytes).
 */
export function encodeAnnounce(
  connectionId: bigint,
  transactionId: number,
  req: AnnounceRequest,
  urlData?: Uint8Array,
): Uint8Array {
  const data = urlData && urlData.length > 0 ? urlData.subarray(0, MAX_URL_DATA) : undefined;
  const optLen = data ? Math.ceil(data.length / 255) * 2 + data.length + 1 : 0;
  const b = Buffer.alloc(98 + optLen);
  b.writeBigUInt64BE(BigInt.asUintN(64, connectionId), 0);
  b.writeUInt32BE(ACTION_ANNOUNCE, 8);
  b.writeUInt32BE(transactionId >>> 0, 12);
  b.set(req.infoHash.subarray(0, 20), 16);
  b.set(req.peerId.subarray(0, 20), 36);
  b.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(req.downloaded))), 56);
  b.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(req.left))), 64);
  b.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(req.uploaded))), 72);
  b.writeUInt32BE(EVENT_CODE[req.event], 80);
  b.writeUInt32BE(0, 84); // IP: the sender's
  b.writeUInt32BE(req.key >>> 0, 88);
  b.writeInt32BE(req.numWant, 92);
  b.writeUInt16BE(req.port, 96);
  if (data) {
    let off = 98;
    for (let i = 0; i < data.length; i += 255) {
      const chunk = data.subarray(i, i + 255);
      b[off++] = 2; // URLData
      b[off++] = chunk.length;
      b.set(chunk, off);
      off += chunk.length;
    }
    b[off] = 0; // EndOfOptions
  }
  return b;
}

export function encodeScrape(
  connectionId: bigint,
  transactionId: number,
  infoHashes: readonly Uint8Array[],
): Uint8Array {
  if (infoHashes.length === 0 || infoHashes.length > MAX_UDP_SCRAPE_HASHES)
    throw new RangeError(`a UDP scrape takes 1 to ${MAX_UDP_SCRAPE_HASHES} info-hashes`);
  const b = Buffer.alloc(16 + 20 * infoHashes.length);
  b.writeBigUInt64BE(BigInt.asUintN(64, connectionId), 0);
  b.writeUInt32BE(ACTION_SCRAPE, 8);
  b.writeUInt32BE(transactionId >>> 0, 12);
  infoHashes.forEach((h, i) => {
    b.set(h.subarray(0, 20), 16 + 20 * i);
  });
  return b;
}

export type UdpReply =
  | { action: "connect"; transactionId: number; connectionId: bigint }
  | {
      action: "announce";
      transactionId: number;
      interval: number;
      leechers: number;
      seeders: number;
      peers: PeerAddress[];
    }
  | { action: "scrape"; transactionId: number; entries: ScrapeCounts[] }
  | { action: "error"; transactionId: number; message: string };

function short(what: string, need: number, got: number): TrackerError {
  return new TrackerError(
    "TRACKER_BAD_RESPONSE",
    `UDP ${what} reply is ${got} bytes, shorter than ${need}`,
  );
}

/**
 * Decode a UDP tracker packet. `ipv6` says the announce went over IPv6, so peers are 18 bytes
 * each (BEP 15). Throws `TRACKER_BAD_RESPONSE` for anything malformed.
 */
export function decodeUdpReply(packet: Uint8Array, ipv6: boolean): UdpReply {
  if (packet.length < 8) throw short("tracker", 8, packet.length);
  const b = Buffer.from(packet.buffer, packet.byteOffset, packet.length);
  const action = b.readUInt32BE(0);
  const transactionId = b.readUInt32BE(4);
  switch (action) {
    case ACTION_CONNECT:
      if (b.length < 16) throw short("connect", 16, b.length);
      return { action: "connect", transactionId, connectionId: b.readBigUInt64BE(8) };
    case ACTION_ANNOUNCE: {
      if (b.length < 20) throw short("announce", 20, b.length);
      return {
        action: "announce",
        transactionId,
        interval: b.readUInt32BE(8),
        leechers: b.readUInt32BE(12),
        seeders: b.readUInt32BE(16),
        peers: parseCompactPeers(packet.subarray(20), ipv6 ? 18 : 6),
      };
    }
    case ACTION_SCRAPE: {
      const entries: ScrapeCounts[] = [];
      for (let off = 8; off + 12 <= b.length; off += 12) {
        entries.push({
          complete: b.readUInt32BE(off),
          downloaded: b.readUInt32BE(off + 4),
          incomplete: b.readUInt32BE(off + 8),
        });
      }
      return { action: "scrape", transactionId, entries };
    }
    case ACTION_ERROR:
      return { action: "error", transactionId, message: trackerText(packet.subarray(8)) };
    default:
      throw new TrackerError("TRACKER_BAD_RESPONSE", `UDP reply has unknown action ${action}`);
  }
}
