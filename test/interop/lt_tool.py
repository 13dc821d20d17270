#!/usr/bin/python3
"""Reference answers from libtorrent (python3-libtorrent), for Tessera's interop tests.

Commands (each prints one JSON object on stdout):
  info TORRENT              -> {infoHash, name, numPieces, pieceLength, totalSize, files:[{path,length,pad}]}
  check TORRENT SAVE_PATH   -> {state, progress, isSeeding, numPieces, havePieces}
                               (libtorrent checks the data in SAVE_PATH against the torrent)
Kept on loopback and quiet: no DHT, LSD, UPnP, NAT-PMP; listens on 127.0.0.1 only.
"""
import json
import sys
import time

import libtorrent as lt


def session():
    return lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "dht_bootstrap_nodes": "",
        "alert_mask": 0,
    })


def info(path):
    ti = lt.torrent_info(path)
    fs = ti.files()
    files = []
    for i in range(fs.num_files()):
        files.append({
            "path": fs.file_path(i).replace("\\", "/"),
            "length": fs.file_size(i),
            "pad": bool(fs.file_flags(i) & lt.file_flags_t.flag_pad_file),
        })
    return {
        "infoHash": str(ti.info_hashes().v1),
        "name": ti.name(),
        "numPieces": ti.num_pieces(),
        "pieceLength": ti.piece_length(),
        "totalSize": ti.total_size(),
        "private": ti.priv(),
        "trackers": [t.url for t in ti.trackers()],
        "files": files,
    }


def check(path, save_path):
    ses = session()
    ses.apply_settings({"alert_mask": lt.alert_category.status | lt.alert_category.error})
    h = ses.add_torrent({"ti": lt.torrent_info(path), "save_path": save_path})
    deadline = time.time() + 120
    checked = False
    while not checked and time.time() < deadline:
        ses.wait_for_alert(200)
        for a in ses.pop_alerts():
            if isinstance(a, lt.torrent_checked_alert):
                checked = True
    s = h.status()
    return {
        "checked": checked,
        "state": str(s.state),
        "progress": s.progress,
        "isSeeding": s.is_seeding,
        "numPieces": len(s.pieces),
        "havePieces": sum(1 for b in s.pieces if b),
    }


def main():
    cmd = sys.argv[1]
    if cmd == "info":
        out = info(sys.argv[2])
    elif cmd == "check":
        out = check(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit("unknown command " + cmd)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
