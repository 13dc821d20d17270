// WebTorrent as a leecher on loopback, for the benchmark harness (its CLI cannot turn DHT, LSD
// or UPnP off). Usage: node webtorrent-leech.mjs CONFIG_JSON
//   CONFIG_JSON = {"webtorrentDir": DIR (npm --prefix where webtorrent is installed),
//                  "torrent": PATH, "saveDir": DIR, "peer": "127.0.0.1:PORT"}
// Prints one JSON event a line: {"event":"version"}, {"event":"done","seconds":..}, {"event":"error"}.
// Exits when stdin closes or on SIGTERM; the harness measures the process until "done".
import { readFileSync } from "node:fs";
import { register } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const started = performance.now();
const cfg = JSON.parse(process.argv[2]);
const emit = (e) => process.stdout.write(`${JSON.stringify(e)}\n`);

// Installed with --ignore-scripts, its WebRTC native module (node-datachannel) is not built and
// importing it throws. TCP peers never need it: resolve webrtc-polyfill to empty classes.
const stub =
  "export class RTCPeerConnection {} export class RTCSessionDescription {} export class RTCIceCandidate {}";
const hook = `export async function resolve(s, c, next) {
  if (s === "webrtc-polyfill") return { url: "data:text/javascript,${encodeURIComponent(stub)}", shortCircuit: true };
  return next(s, c);
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);

const pkgDir = path.join(cfg.webtorrentDir, "node_modules", "webtorrent");
const { default: WebTorrent } = await import(pathToFileURL(path.join(pkgDir, "index.js")).href);
const version = JSON.parse(readFileSync(path.join(pkgDir, "package.json"), "utf8")).version;
emit({ event: "version", version });

const client = new WebTorrent({
  dht: false,
  lsd: false,
  natUpnp: false,
  natPmp: false,
  tracker: false,
  webSeeds: false,
  utPex: false,
  utp: false,
});
client.on("error", (e) => {
  emit({ event: "error", message: String(e?.message ?? e) });
  process.exit(1);
});
const torrent = client.add(readFileSync(cfg.torrent), { path: cfg.saveDir, announce: [] });
let added = false;
const addPeer = () => {
  if (added || !torrent.infoHash) return;
  added = true;
  torrent.addPeer(cfg.peer);
};
torrent.on("infoHash", addPeer);
torrent.on("ready", addPeer);
addPeer();
torrent.on("error", (e) => {
  emit({ event: "error", message: String(e?.message ?? e) });
  process.exit(1);
});
torrent.on("done", () => {
  emit({ event: "done", seconds: (performance.now() - started) / 1000 });
});
const quit = () => client.destroy(() => process.exit(0));
process.stdin.on("end", quit);
process.stdin.resume();
process.on("SIGTERM", quit);
