#!/usr/bin/python3
"""Make a .torrent with libtorrent's create_torrent, for Tessera's interop harness.

Usage: lt_create.py CONFIG_JSON
  CONFIG_JSON = {"content": PATH, "out": PATH, "pieceLength": N, "trackers": [url, ...],
                 "kind": "v1" | "v2" | "hybrid", "private": bool, "comment": str | null}
Prints {"torrent": PATH, "infoHash": hex40 | null, "infoHashV2": hex64 | null, "magnet": URI}.
"""
import json
import os
import sys

import libtorrent as lt


def main():
    cfg = json.loads(sys.argv[1])
    content = os.path.abspath(cfg["content"])
    fs = lt.file_storage()
    lt.add_files(fs, content)
    if fs.num_files() == 0:
        raise SystemExit("no files under " + content)
    flags = {"v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only,
             "hybrid": 0}[cfg.get("kind", "v1")]
    ct = lt.create_torrent(fs, int(cfg["pieceLength"]), flags=flags)
    for tier, url in enumerate(cfg.get("trackers") or []):
        ct.add_tracker(url, tier)
    if cfg.get("private"):
        ct.set_priv(True)
    if cfg.get("comment"):
        ct.set_comment(cfg["comment"])
    ct.set_creator("tessera-interop (libtorrent %s)" % lt.__version__)
    lt.set_piece_hashes(ct, os.path.dirname(content))
    data = lt.bencode(ct.generate())
    with open(cfg["out"], "wb") as f:
        f.write(data)
    ti = lt.torrent_info(cfg["out"])
    ih = ti.info_hashes()
    print(json.dumps({
        "torrent": cfg["out"],
        "infoHash": str(ih.v1) if ih.has_v1() else None,
        "infoHashV2": str(ih.v2) if ih.has_v2() else None,
        "magnet": lt.make_magnet_uri(ti),
    }))


if __name__ == "__main__":
    main()
