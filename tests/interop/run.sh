#!/usr/bin/env bash
# Interop with QuickFIX (PyPI quickfix 1.16, C++ built by pip) in both roles, through a proxy
# that drops every N-th first-time application message in both directions (gaps on both sides).
#
#   tests/interop/run.sh [COUNT] [DROP_EVERY]      default 100000 orders, drop every 997th
#
#   1. QuickFIX initiator -> proxy -> fixeng acceptor (--app echo)
#   2. fixeng initiator (--app load) -> proxy -> QuickFIX acceptor
#
# Checks: every order and every ExecutionReport arrives exactly once and in order on both sides;
# the proxy dropped messages both ways (so both sides recovered gaps); the sequence numbers each
# side ends with agree with what the other side sent (as the proxy saw it).
# Needs python3 with `quickfix` importable (INTEROP_PYTHON, default tests/interop/.venv or
# python3); `pip install quickfix==1.16.0` builds QuickFIX's C++ (see docs/reliability.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
COUNT=${1:-100000}
DROP=${2:-997}
PY=${INTEROP_PYTHON:-python3}
[ -x tests/interop/.venv/bin/python ] && PY=${INTEROP_PYTHON:-tests/interop/.venv/bin/python}
if ! "$PY" -c 'import quickfix' 2>/dev/null; then
  echo "interop: SKIP: python module quickfix not importable with $PY (pip install quickfix==1.16.0)"
  exit 0
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
BIN=${FIXENG_BIN:-$CARGO_TARGET_DIR/release/fixeng}
[ -x "$BIN" ] || cargo build --release -p fixeng >/dev/null
W=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT
freeport() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
fail=0

check_seq() { # name got want
  if [ "$2" = "$3" ]; then echo "   ok   $1: $2"; else echo "   FAIL $1: $2, expected $3"; fail=1; fi
}
json() { "$PY" -c "import json,sys; d=json.load(open('$1')); print(eval('d' + sys.argv[1]))" "$2"; }

echo "== 1. QuickFIX initiator -> proxy (drop every $DROP) -> fixeng acceptor, $COUNT orders"
P1=$(freeport); P2=$(freeport)
cat >"$W/acc.cfg" <<CFG
[DEFAULT]
ConnectionType=acceptor
SocketAcceptPort=$P2
HeartBtInt=5
FileStorePath=$W/fx-acc-store
[SESSION]
BeginString=FIX.4.4
SenderCompID=EXCHANGE
TargetCompID=CLIENT
CFG
"$BIN" acceptor --config "$W/acc.cfg" --app echo --idle backoff >"$W/fx-acc.out" 2>&1 &
FX=$!; PIDS+=($FX)
"$PY" tests/interop/fixproxy.py "$P1" "$P2" --drop-every "$DROP" --stats-file "$W/proxy1.json" >"$W/proxy1.out" 2>&1 &
PX=$!; PIDS+=($PX)
sleep 1
T0=$(date +%s.%N)
set +e
"$PY" tests/interop/qf_peer.py initiator "$P1" "$COUNT" "$W/qf1" >"$W/qf1.json" 2>"$W/qf1.err"
QRC=$?
set -e
T1=$(date +%s.%N)
sleep 1
kill -INT $FX; wait $FX || true
kill -TERM $PX; wait $PX 2>/dev/null || true
cat "$W/qf1.json"; tail -n 3 "$W/qf1.err" || true
grep -E "echo:|next sender seq" "$W/fx-acc.out" || tail -n 20 "$W/fx-acc.out"
echo "   proxy: $(cat "$W/proxy1.json")" | cut -c1-400
echo "   elapsed $(echo "$T1 - $T0" | bc) s"
[ $QRC = 0 ] || { echo "   FAIL: QuickFIX initiator did not get every report in order"; fail=1; }
grep -q "echo: $COUNT orders answered, 0 out of sequence" "$W/fx-acc.out" || { echo "   FAIL: fixeng echo count"; fail=1; }
FXS=$(grep -o 'next sender seq [0-9]*' "$W/fx-acc.out" | awk '{print $4}')
FXT=$(grep -o 'next target seq [0-9]*' "$W/fx-acc.out" | awk '{print $4}')
check_seq "fixeng next sender = proxy max seq fixeng->QF + 1" "$FXS" "$(( $(json "$W/proxy1.json" "['server->client']['max_seq']") + 1 ))"
check_seq "fixeng next target = proxy max seq QF->fixeng + 1" "$FXT" "$(( $(json "$W/proxy1.json" "['client->server']['max_seq']") + 1 ))"
[ "$(json "$W/proxy1.json" "['client->server']['dropped']")" -gt 0 ] && [ "$(json "$W/proxy1.json" "['server->client']['dropped']")" -gt 0 ] \
  || { [ "$DROP" = 0 ] || { echo "   FAIL: the proxy did not drop both ways"; fail=1; }; }

echo "== 2. fixeng initiator -> proxy (drop every $DROP) -> QuickFIX acceptor, $COUNT orders"
P1=$(freeport); P2=$(freeport)
"$PY" tests/interop/qf_peer.py acceptor "$P2" "$COUNT" "$W/qf2" >"$W/qf2.json" 2>"$W/qf2.err" &
QF=$!; PIDS+=($QF)
"$PY" tests/interop/fixproxy.py "$P1" "$P2" --drop-every "$DROP" --stats-file "$W/proxy2.json" >"$W/proxy2.out" 2>&1 &
PX=$!; PIDS+=($PX)
cat >"$W/ini.cfg" <<CFG
[DEFAULT]
ConnectionType=initiator
SocketConnectHost=127.0.0.1
SocketConnectPort=$P1
HeartBtInt=5
ReconnectInterval=1
FileStorePath=$W/fx-ini-store
[SESSION]
BeginString=FIX.4.4
SenderCompID=CLIENT
TargetCompID=EXCHANGE
CFG
sleep 2
T0=$(date +%s.%N)
set +e
"$BIN" initiator --config "$W/ini.cfg" --app load --rate 0 --count "$COUNT" --idle backoff >"$W/fx-ini.out" 2>&1
FRC=$?
wait $QF; QRC=$?
set -e
T1=$(date +%s.%N)
kill -TERM $PX; wait $PX 2>/dev/null || true
cat "$W/qf2.json"; tail -n 3 "$W/qf2.err" || true
grep -E "sent,|next sender seq" "$W/fx-ini.out" || tail -n 20 "$W/fx-ini.out"
echo "   proxy: $(cat "$W/proxy2.json")" | cut -c1-400
echo "   elapsed $(echo "$T1 - $T0" | bc) s"
[ $FRC = 0 ] || { echo "   FAIL: fixeng initiator exit $FRC"; fail=1; }
[ $QRC = 0 ] || { echo "   FAIL: QuickFIX acceptor did not get every order in order"; fail=1; }
grep -q "$COUNT sent, $COUNT acknowledged in order, 0 out of sequence" "$W/fx-ini.out" || { echo "   FAIL: fixeng load count"; fail=1; }
FXS=$(grep -o 'next sender seq [0-9]*' "$W/fx-ini.out" | awk '{print $4}')
FXT=$(grep -o 'next target seq [0-9]*' "$W/fx-ini.out" | awk '{print $4}')
check_seq "fixeng next sender = proxy max seq fixeng->QF + 1" "$FXS" "$(( $(json "$W/proxy2.json" "['client->server']['max_seq']") + 1 ))"
check_seq "fixeng next target = proxy max seq QF->fixeng + 1" "$FXT" "$(( $(json "$W/proxy2.json" "['server->client']['max_seq']") + 1 ))"

if [ $fail = 0 ]; then echo "interop: OK"; else echo "interop: FAILED"; fi
exit $fail
