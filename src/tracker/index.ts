/**
 * Trackers (BEP 3, 7, 12, 15, 23, 41, 48): sans-I/O codecs and the tier {@link Announcer}, a
 * bounded HTTP(S) and UDP {@link TrackerClient}, and {@link TorrentTrackers} driving one torrent's
 * announces.
 * @module
 */
export {
  type AnnounceContext,
  Announcer,
  DEFAULT_INTERVALS,
  type IntervalPolicy,
  type TrackerStatus,
  type TrackerStatusKind,
} from "./announcer.js";
export { parseTrackerUrl, TrackerClient, type TrackerClientOptions } from "./client.js";
export { TrackerError, type TrackerErrorCode } from "./errors.js";
export {
  buildAnnounceUrl,
  buildScrapeUrl,
  parseAnnounceBody,
  parseScrapeBody,
  scrapeUrlOf,
} from "./http-codec.js";
export { TorrentTrackers } from "./torrent-trackers.js";
export type { AnnounceEvent, AnnounceRequest, AnnounceResponse, ScrapeCounts } from "./types.js";
export { decodeUdpReply, encodeAnnounce, encodeConnect, encodeScrape } from "./udp-codec.js";
