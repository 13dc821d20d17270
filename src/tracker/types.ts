import type { PeerAddress } from "../util/address.js";

/** `event` of an announce; `"none"` is a regular re-announce (no `event` parameter). */
export type AnnounceEvent = "none" | "started" | "completed" | "stopped";

/** What we tell a tracker. Byte counts are of this session (BEP 3). */
export interface AnnounceRequest {
  /** 20 bytes (a v1 info-hash, or a v2 one truncated for trackers). */
  infoHash: Uint8Array;
  /** 20 bytes. */
  peerId: Uint8Array;
  /** Our listen port. */
  port: number;
  uploaded: number;
  downloaded: number;
  /** Bytes still wanted. */
  left: number;
  event: AnnounceEvent;
  /** Peers asked for. */
  numWant: number;
  /** 32-bit random number identifying this client across IP changes (BEP 7). */
  key: number;
  /** `tracker id` from an earlier HTTP reply, sent back as `trackerid`. */
  trackerId?: string;
}

/** A tracker's answer to an announce, validated. */
export interface AnnounceResponse {
  /** Seconds until the next regular announce, as sent (not yet clamped). */
  interval?: number;
  /** Seconds the tracker asks us to wait at least between announces. */
  minInterval?: number;
  peers: PeerAddress[];
  /** Seeders, if the tracker says. */
  complete?: number;
  /** Leechers, if the tracker says. */
  incomplete?: number;
  trackerId?: string;
  /** A `warning message`, made printable. */
  warning?: string;
}

/** Counts for one torrent from a scrape (BEP 48), or from an announce reply. */
export interface ScrapeCounts {
  /** Seeders. */
  complete: number;
  /** Leechers. */
  incomplete: number;
  /** Completed downloads ever reported (`downloaded`). */
  downloaded: number;
}
