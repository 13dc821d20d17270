/**
 * Real BitTorrent clients on loopback for Tessera's interop tests (see shared/INTEROP.md).
 * Every process gets its own process group, a log file in the work dir, bounded waits, and dies
 * with the test process.
 * @module
 */
export * from "./aria2.js";
export * from "./content.js";
export * from "./lt-peer.js";
export * from "./opentracker.js";
export * from "./ports.js";
export * from "./process.js";
export * from "./scope.js";
export * from "./tracker.js";
export * from "./transmission.js";
