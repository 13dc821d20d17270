#!/usr/bin/python3
"""One libtorrent peer (seed or leecher) on loopback, driven by Tessera's interop harness.

Usage: lt_peer.py CONFIG_JSON
  CONFIG_JSON = {"mode": "seed"|"leech", "torrent": PATH | null, "magnet": URI | null,
                 "savePath": DIR, "listen": "127.0.0.1:0[,[::1]:0]",
                 "peers": [[host, port], ...], "settings": {...extra session settings},
                 "trackers": [url, ...] | null (replace the torrent's trackers; [] = none),
                 "statusInterval": seconds,
                 "flushBeforeFinished": bool (default true: "finished" waits until the
                 downloaded blocks are on disk, not just verified)}
Events, one JSON object a line on stdout:
  {"event":"listening","address":..,"port":..}      (one per listen socket)
  {"event":"checked","progress":..,"seeding":..}    (after the initial hash check)
  {"event":"metadata"}                              (magnet: metadata received)
  {"event":"peer","ip":..,"port":..}               (a peer connection was established)
  {"event":"tracker","url":..,"message":..}         (tracker replied / warned / failed)
  {"event":"status", ...}                           (every statusInterval seconds)
  {"event":"finished","seconds":..}                 (leech: all wanted pieces downloaded, and
                                                     flushed to disk unless told otherwise)
  {"event":"error","message":..}
Commands, one JSON object a line on stdin:
  {"cmd":"connect","host":..,"port":..}   dial a peer
  {"cmd":"status"}                        print a status event now
  {"cmd":"quit"}                          exit
The process exits when stdin closes, so it never outlives the harness.
Everything stays on loopback: no DHT, LSD, UPnP, NAT-PMP, no bootstrap node, TCP only.
"""
import json
import queue
import sys
import threading
import time

import libtorrent as lt


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def log(msg):
    sys.stderr.write("[%.3f] %s\n" % (time.time(), msg))
    sys.stderr.flush()


def stdin_reader(q):
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            q.put(json.loads(line))
        except ValueError:
            log("bad command: " + line)
    q.put({"cmd": "quit", "reason": "stdin closed"})


def make_session(cfg):
    mode = cfg["mode"]
    settings = lt.high_performance_seed() if mode == "seed" else lt.default_settings()
    settings.update({
        "listen_interfaces": cfg["listen"],
        "outgoing_interfaces": "",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "dht_bootstrap_nodes": "",
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "enable_incoming_tcp": True,
        "enable_outgoing_tcp": True,
        "allow_multiple_connections_per_ip": True,
        "user_agent": "tessera-interop-lt/" + lt.__version__,
        "alert_mask": lt.alert_category.status | lt.alert_category.error
        | lt.alert_category.peer | lt.alert_category.tracker
        | lt.alert_category.storage | lt.alert_category.connect,
    })
    settings.update(cfg.get("settings") or {})
    return lt.session(settings)


def main():
    cfg = json.loads(sys.argv[1])
    ses = make_session(cfg)
    if cfg.get("torrent"):
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(cfg["torrent"])
    else:
        atp = lt.parse_magnet_uri(cfg["magnet"])
    atp.save_path = cfg["savePath"]
    if cfg.get("trackers") is not None:
        atp.trackers = list(cfg["trackers"])
        atp.flags |= lt.torrent_flags.override_trackers
    if cfg["mode"] == "seed" or cfg.get("uploadMode"):
        # Seeds must never download: a missing or corrupt file is an error, not something to fetch.
        # A leecher in upload mode stays connected and incomplete (a PEX witness).
        atp.flags |= lt.torrent_flags.upload_mode
    h = ses.add_torrent(atp)
    if cfg.get("downloadLimit"):
        # Per torrent: session limits do not apply to peers on the local network.
        h.set_download_limit(int(cfg["downloadLimit"]))
    if cfg.get("uploadLimit"):
        h.set_upload_limit(int(cfg["uploadLimit"]))
    started = time.time()
    peers = [tuple(p) for p in cfg.get("peers") or []]
    finished = False
    # libtorrent reports seeding once every piece is verified, which can be before its disk
    # thread has written the last blocks: flush first, so the files are whole when we say so.
    flush_first = cfg.get("flushBeforeFinished", True)
    flush_started = None
    interval = float(cfg.get("statusInterval") or 1.0)
    next_status = time.time() + interval
    next_redial = 0.0

    cmds = queue.Queue()
    threading.Thread(target=stdin_reader, args=(cmds,), daemon=True).start()

    def status():
        s = h.status()
        return {
            "event": "status",
            "state": str(s.state).split(".")[-1],
            "progress": s.progress,
            "seeding": s.is_seeding,
            "finished": s.is_finished,
            "hasMetadata": s.has_metadata,
            "peers": s.num_peers,
            "totalDone": s.total_done,
            "totalWanted": s.total_wanted,
            "downloaded": s.total_payload_download,
            "uploaded": s.total_payload_upload,
            "downRate": s.download_payload_rate,
            "upRate": s.upload_payload_rate,
            "error": str(s.errc.message()) if s.errc.value() else "",
        }

    def dial(host, port):
        try:
            h.connect_peer((host, int(port)))
            log("connect_peer %s:%s" % (host, port))
        except Exception as e:  # noqa: BLE001
            emit({"event": "error", "message": "connect_peer %s:%s: %s" % (host, port, e)})

    while True:
        try:
            while True:
                c = cmds.get_nowait()
                if c.get("cmd") == "quit":
                    log("quit: %s" % c.get("reason", "asked"))
                    return
                if c.get("cmd") == "connect":
                    peers.append((c["host"], int(c["port"])))
                    dial(c["host"], c["port"])
                elif c.get("cmd") == "status":
                    emit(status())
        except queue.Empty:
            pass

        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            log("%s: %s" % (type(a).__name__, a.message()))
            if isinstance(a, lt.listen_succeeded_alert):
                if a.socket_type == lt.socket_type_t.tcp:
                    emit({"event": "listening", "address": str(a.address), "port": a.port})
            elif isinstance(a, lt.listen_failed_alert):
                emit({"event": "error", "message": "listen failed: " + a.message()})
            elif isinstance(a, lt.torrent_checked_alert):
                s = h.status()
                emit({"event": "checked", "progress": s.progress, "seeding": s.is_seeding})
            elif isinstance(a, lt.metadata_received_alert):
                emit({"event": "metadata"})
            elif isinstance(a, lt.peer_connect_alert):
                pass
            elif isinstance(a, (lt.tracker_reply_alert, lt.tracker_warning_alert,
                                lt.tracker_error_alert, lt.scrape_reply_alert,
                                lt.scrape_failed_alert)):
                emit({"event": "tracker", "kind": type(a).__name__, "url": a.tracker_url(),
                      "message": a.message()})
            elif isinstance(a, lt.torrent_error_alert):
                emit({"event": "error", "message": a.message()})
            elif isinstance(a, lt.file_error_alert):
                emit({"event": "error", "message": a.message()})
            elif isinstance(a, lt.cache_flushed_alert) and flush_started is not None and not finished:
                finished = True
                emit({"event": "finished", "seconds": flush_started - started})

        now = time.time()
        s = h.status()
        ready = s.state not in (lt.torrent_status.checking_files,
                                lt.torrent_status.checking_resume_data)
        if ready and peers and now >= next_redial:
            # connect_peer is fire-and-forget: dial again while nobody is connected.
            next_redial = now + 2.0
            if s.num_peers == 0 and not (cfg["mode"] == "leech" and s.is_seeding):
                for host, port in peers:
                    dial(host, port)
        if cfg["mode"] == "leech" and not finished and ready and s.has_metadata and s.is_seeding:
            if not flush_first:
                finished = True
                emit({"event": "finished", "seconds": time.time() - started})
            elif flush_started is None:
                flush_started = time.time()
                h.flush_cache()
            elif now - flush_started > 10:
                # No cache_flushed_alert: say so, and go on (the byte comparison will tell).
                log("no cache_flushed_alert within 10 s of finishing")
                finished = True
                emit({"event": "finished", "seconds": flush_started - started})
        if now >= next_status:
            next_status = now + interval
            emit(status())


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001
        emit({"event": "error", "message": "%s: %s" % (type(e).__name__, e)})
        raise
