#!/usr/bin/env python3
"""A FIX-aware TCP proxy that makes sequence gaps: it frames the byte stream into FIX messages
(BodyLength/CheckSum) and drops chosen application messages, in each direction, on their first
transmission only (resends, PossDupFlag=Y, always pass). It records, per direction, the messages
it forwarded and the highest MsgSeqNum seen, and writes them as JSON on SIGTERM/SIGINT or when
--stats-file is given and the listener closes.

    fixproxy.py LISTEN_PORT TARGET_PORT --drop-every N [--stats-file F]

Dropping every N-th first-transmission application message (N > 0) in both directions makes both
sides detect gaps and send ResendRequests.
"""
import argparse
import json
import re
import signal
import socket
import sys
import threading

SEQ = re.compile(rb'\x0134=(\d+)\x01')
TYPE = re.compile(rb'\x0135=([^\x01]*)\x01')
ADMIN = {b'0', b'1', b'2', b'3', b'4', b'5', b'A'}

stats = {}
lock = threading.Lock()


def frames(buf):
    """Splits complete FIX messages off the front of buf; returns (messages, rest)."""
    out = []
    while True:
        i = buf.find(b'8=FIX')
        if i < 0:
            return out, buf[-5:] if len(buf) > 5 else buf
        if i > 0:
            with lock:
                stats.setdefault('junk_bytes', 0)
                stats['junk_bytes'] += i
            buf = buf[i:]
        e1 = buf.find(b'\x01')
        e2 = buf.find(b'\x01', e1 + 1) if e1 >= 0 else -1
        if e2 < 0:
            return out, buf
        try:
            blen = int(buf[e1 + 3:e2])
        except ValueError:
            buf = buf[1:]
            continue
        end = e2 + 1 + blen + 7
        if len(buf) < end:
            return out, buf
        out.append(bytes(buf[:end]))
        buf = buf[end:]


def pump(src, dst, name, drop_every):
    st = stats.setdefault(name, {'forwarded': 0, 'dropped': 0, 'app_first': 0, 'max_seq': 0,
                                 'dropped_seqs': []})
    seen = set()
    buf = b''
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            msgs, buf = frames(buf + data)
            out = bytearray()
            for m in msgs:
                seq = SEQ.search(m)
                typ = TYPE.search(m)
                seq = int(seq.group(1)) if seq else 0
                typ = typ.group(1) if typ else b''
                with lock:
                    st['max_seq'] = max(st['max_seq'], seq)
                posdup = b'\x0143=Y\x01' in m
                if typ not in ADMIN and not posdup and seq not in seen:
                    seen.add(seq)
                    with lock:
                        st['app_first'] += 1
                        n = st['app_first']
                    if drop_every and n % drop_every == 0:
                        with lock:
                            st['dropped'] += 1
                            st['dropped_seqs'].append(seq)
                        continue
                with lock:
                    st['forwarded'] += 1
                out += m
            if out:
                dst.sendall(out)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('listen', type=int)
    ap.add_argument('target', type=int)
    ap.add_argument('--drop-every', type=int, default=0)
    ap.add_argument('--stats-file')
    a = ap.parse_args()

    def dump(*_):
        if a.stats_file:
            with lock:
                s = json.dumps(stats, default=list)
            with open(a.stats_file, 'w') as f:
                f.write(s)
        if _:
            sys.exit(0)

    signal.signal(signal.SIGTERM, dump)
    signal.signal(signal.SIGINT, dump)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(('127.0.0.1', a.listen))
    ls.listen(4)
    print(f'proxy 127.0.0.1:{a.listen} -> 127.0.0.1:{a.target}, dropping every '
          f'{a.drop_every or "no"} first-time application message', flush=True)
    conn = 0
    while True:
        c, _ = ls.accept()
        conn += 1
        try:
            t = socket.create_connection(('127.0.0.1', a.target))
        except OSError:
            c.close()
            continue
        for s in (c, t):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=pump, args=(c, t, 'client->server', a.drop_every), daemon=True).start()
        threading.Thread(target=pump, args=(t, c, 'server->client', a.drop_every), daemon=True).start()
        dump()


if __name__ == '__main__':
    main()
