#!/usr/bin/env bash
# Wire check: captures the `fixeng demo` session on loopback and checks every FIX message on the
# wire with tshark's FIX dissector and with an independent re-framer (BodyLength, CheckSum).
#
#   scripts/wirecheck.sh [ORDERS]          (default 5000; the demo's faults stay on: they drop,
#                                           reorder, duplicate and cut at message boundaries)
#
# Prints the counts; exits 1 on any bad CheckSum, bad BodyLength or undecoded byte, 0 otherwise.
# Skips (exit 0, message) when not root, when tshark/dumpcap is missing, or when the demo cannot
# use loopback TCP. FIXENG_BIN=path uses an already built fixeng.
set -euo pipefail
cd "$(dirname "$0")/.."
ORDERS=${1:-5000}

skip() { echo "wirecheck: SKIP: $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root to capture on lo"
command -v tshark >/dev/null || skip "tshark not installed (apt-get install tshark)"
command -v dumpcap >/dev/null || skip "dumpcap not installed"
command -v python3 >/dev/null || skip "python3 not installed"
ip link show lo >/dev/null 2>&1 || skip "no loopback interface"

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
BIN=${FIXENG_BIN:-$CARGO_TARGET_DIR/release/fixeng}
if [ ! -x "$BIN" ]; then
  echo "wirecheck: building fixeng (release)"
  cargo build --release -p fixeng >/dev/null
fi

TMP=$(mktemp -d)
trap 'kill $CAP 2>/dev/null || true; rm -rf "$TMP"' EXIT
# Every TCP segment on lo (the demo's port is ephemeral; it is known only once it listens).
dumpcap -q -i lo -f tcp -w "$TMP/cap.pcapng" 2>"$TMP/dumpcap.err" &
CAP=$!
for _ in $(seq 50); do grep -q "Capturing on" "$TMP/dumpcap.err" 2>/dev/null && break; sleep 0.1; done
grep -q "Capturing on" "$TMP/dumpcap.err" || { cat "$TMP/dumpcap.err"; skip "dumpcap could not capture on lo"; }

set +e
"$BIN" demo --orders "$ORDERS" >"$TMP/demo.out" 2>&1
DEMO_RC=$?
set -e
sleep 1
kill -INT $CAP; wait $CAP 2>/dev/null || true
cat "$TMP/demo.out" | tail -n 15
PORT=$(grep -o 'listening on 127\.0\.0\.1:[0-9]*' "$TMP/demo.out" | head -1 | sed 's/.*://')
[ -n "$PORT" ] || skip "the demo did not run over loopback TCP (no 'listening on' line)"
echo "wirecheck: demo exit code $DEMO_RC, acceptor port $PORT"

# 1. tshark's FIX dissector.
tshark -r "$TMP/cap.pcapng" -o tcp.desegment_tcp_streams:TRUE -o fix.desegment:TRUE \
  -d "tcp.port==$PORT,fix" -Y "tcp.port==$PORT" -T fields -E occurrence=a -E separator='|' \
  -e frame.number -e fix.MsgType -e fix.checksum_good -e fix.checksum_bad -e fix.data \
  -e tcp.analysis.retransmission >"$TMP/fix.tsv" 2>"$TMP/tshark.err" || { cat "$TMP/tshark.err"; exit 1; }
# 2. The raw payloads, per connection and direction, for the independent check.
tshark -r "$TMP/cap.pcapng" -Y "tcp.port==$PORT && tcp.len>0 && !tcp.analysis.retransmission" \
  -T fields -E separator='|' -e tcp.stream -e tcp.srcport -e tcp.payload >"$TMP/payload.tsv"

python3 - "$TMP/fix.tsv" "$TMP/payload.tsv" "$PORT" <<'PY'
import sys, collections
fix, payload, port = sys.argv[1], sys.argv[2], sys.argv[3]
msgs = good = bad = undecoded = retrans = 0
for line in open(fix):
    f = line.rstrip('\n').split('|')
    types = [t for t in f[1].split(',') if t]
    msgs += len(types)
    good += sum(1 for v in f[2].split(',') if v in ('1', 'True'))
    bad += sum(1 for v in f[3].split(',') if v in ('1', 'True'))
    undecoded += 1 if f[4] else 0
    retrans += 1 if len(f) > 5 and f[5] else 0
print(f"tshark FIX dissector: {msgs} messages decoded, checksum_good {good}, checksum_bad {bad}, "
      f"frames with undecoded data {undecoded}, retransmitted segments {retrans}")

streams = collections.OrderedDict()
for line in open(payload):
    s, sport, hexp = line.rstrip('\n').split('|')
    key = (int(s), 'acceptor->initiator' if sport == port else 'initiator->acceptor')
    streams.setdefault(key, bytearray()).extend(bytes.fromhex(hexp.replace(':', '')))
framed = bad_len = bad_sum = junk = 0
first_err = None
for (s, d), b in streams.items():
    i = 0
    while i < len(b):
        if not b.startswith(b'8=FIX', i):
            junk += 1
            first_err = first_err or f"stream {s} {d} offset {i}: not a message start: {bytes(b[i:i+40])!r}"
            break
        try:
            e1 = b.index(b'\x01', i)
            e2 = b.index(b'\x01', e1 + 1)
            assert b.startswith(b'9=', e1 + 1)
            blen = int(b[e1 + 3:e2])
        except Exception:
            bad_len += 1
            first_err = first_err or f"stream {s} {d} offset {i}: no BodyLength"
            break
        end = e2 + 1 + blen
        if not (b.startswith(b'10=', end) and b[end + 6:end + 7] == b'\x01' and b[end - 1] == 1):
            bad_len += 1
            first_err = first_err or f"stream {s} {d} offset {i}: BodyLength {blen} does not end at 10=: {bytes(b[i:i+80])!r}"
            break
        if int(b[end + 3:end + 6]) != sum(b[i:end]) % 256:
            bad_sum += 1
            first_err = first_err or f"stream {s} {d} offset {i}: bad CheckSum"
        framed += 1
        i = end + 7
print(f"independent re-framing: {len(streams)} directed streams, {framed} messages, "
      f"bad BodyLength {bad_len}, bad CheckSum {bad_sum}, streams with trailing junk {junk}")
if first_err:
    print("first error:", first_err)
ok = msgs > 0 and bad == 0 and undecoded == 0 and bad_len == 0 and bad_sum == 0 and junk == 0 \
    and good == msgs and framed == msgs
print("wirecheck:", "OK" if ok else "FAILED")
sys.exit(0 if ok else 1)
PY
