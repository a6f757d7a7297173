#!/usr/bin/env python3
"""Hostile peer at the runtime level: logs on to a `fixeng acceptor --app echo`, then sends
NewOrderSingles as fast as it can and never reads a byte (so every ExecutionReport backs up).
Samples the acceptor's resident memory while it does. The acceptor must keep its memory bounded:
back-pressure (stop reading) or drop the slow consumer, never buffer without limit.

    never_reads.py PORT ACCEPTOR_PID [ORDERS] [SECONDS]

Prints one JSON line: orders written, seconds, RSS samples (KiB) and whether the connection was
closed by the acceptor.
"""
import json
import socket
import sys
import time

port, pid = int(sys.argv[1]), int(sys.argv[2])
orders = int(sys.argv[3]) if len(sys.argv) > 3 else 2_000_000
secs = float(sys.argv[4]) if len(sys.argv) > 4 else 20


def msg(fields):
    body = ''.join(f'{t}={v}\x01' for t, v in fields).encode()
    m = b'8=FIX.4.4\x019=%d\x01' % len(body) + body
    return m + b'10=%03d\x01' % (sum(m) % 256)


def now():
    t = time.gmtime()
    return time.strftime('%Y%m%d-%H:%M:%S.000', t)


def rss():
    try:
        for line in open(f'/proc/{pid}/status'):
            if line.startswith('VmRSS'):
                return int(line.split()[1])
    except OSError:
        return -1
    return -1


s = socket.create_connection(('127.0.0.1', port))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
hdr = [(49, 'CLIENT'), (56, 'EXCHANGE')]
s.sendall(msg([(35, 'A')] + hdr + [(34, 1), (52, now()), (98, 0), (108, 30)]))
start = time.time()
samples = [rss()]
sent = 0
closed = False
s.settimeout(1.0)
last = start
batch = []
while sent < orders and time.time() - start < secs:
    seq = sent + 2
    batch.append(msg([(35, 'D')] + hdr + [(34, seq), (52, now()), (11, f'O{sent + 1}'),
                     (55, 'EUR/USD'), (54, 1), (38, 100), (40, 2), (44, '1.2345'),
                     (60, now()), (21, 1)]))
    sent += 1
    if len(batch) == 100:
        try:
            s.sendall(b''.join(batch))
        except socket.timeout:
            # The acceptor stopped reading too (back-pressure end to end): keep trying.
            sent -= 0
        except OSError:
            closed = True
            break
        batch = []
    if time.time() - last >= 1:
        samples.append(rss())
        last = time.time()
samples.append(rss())
print(json.dumps({'orders_written': sent, 'seconds': round(time.time() - start, 1),
                  'rss_kib': samples, 'closed_by_acceptor': closed}), flush=True)
