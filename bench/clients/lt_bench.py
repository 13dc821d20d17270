#!/usr/bin/python3
"""libtorrent side of Tessera's benchmarks (run with Debian's /usr/bin/python3).

Usage:
  lt_bench.py check TORRENT SAVE_PATH [HASHING_THREADS]
      Add the torrent in a session (DHT/LSD/UPnP/NAT-PMP off, no listen socket) and wait for
      its full hash check. Prints {"seconds": check time, "progress": .., "hashingThreads": ..}.
  lt_bench.py decode TORRENT RUNS
      torrent_info() from the file's bytes, RUNS times. Prints {"first": s, "median": s}.
Everything stays on loopback; the process exits when done.
"""
import json
import sys
import time

import libtorrent as lt


def check(torrent, save_path, threads):
    settings = {
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "dht_bootstrap_nodes": "",
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "alert_mask": lt.alert_category.status | lt.alert_category.error
        | lt.alert_category.storage,
    }
    if threads is not None:
        settings["hashing_threads"] = threads
    ses = lt.session(settings)
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(torrent)
    atp.save_path = save_path
    atp.flags |= lt.torrent_flags.upload_mode
    t0 = time.time()
    h = ses.add_torrent(atp)
    while True:
        ses.wait_for_alert(1000)
        for a in ses.pop_alerts():
            if isinstance(a, lt.torrent_checked_alert):
                s = h.status()
                print(json.dumps({"seconds": time.time() - t0, "progress": s.progress,
                                  "hashingThreads": ses.get_settings()["hashing_threads"]}))
                return
            if isinstance(a, (lt.torrent_error_alert, lt.file_error_alert)):
                raise SystemExit(a.message())


def decode(torrent, runs):
    with open(torrent, "rb") as f:
        data = f.read()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        ti = lt.torrent_info(data)
        times.append(time.perf_counter() - t0)
        assert ti.num_pieces() > 0
    first = times[0]
    times.sort()
    print(json.dumps({"first": first, "median": times[len(times) // 2],
                      "pieces": ti.num_pieces()}))


def main():
    cmd = sys.argv[1]
    if cmd == "check":
        check(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else None)
    elif cmd == "decode":
        decode(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main()
