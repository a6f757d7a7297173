#!/usr/bin/env bash
# Cycle-level equivalence of fpga/rtl with a reference revision of it (default f5c8210, the RTL
# before the timing restructuring of docs/sequencer.md 6.3): both fix_sequencer tops run side by
# side in Icarus Verilog on the same generated traffic (gen.py: hostile FIX traffic, BodyLengths
# at the TOO_LONG boundary, FIXT, bad checksums, truncations, sparse tkeep, session switches,
# random m_axis back-pressure) and every output is compared on every cycle (tb.v).
# Usage: fpga/synth/equiv/run.sh [MESSAGES [SEEDS [REV]]]   (defaults: 400 "1 2" f5c8210)
# Needs git (read-only), python3 and iverilog. Exits non-zero on any difference.
set -euo pipefail
cd "$(dirname "$0")/../../.."
MSGS=${1:-400}
SEEDS=${2:-"1 2"}
REV=${3:-f5c8210}
W=$(mktemp -d /tmp/fix-equiv.XXXXXX)
trap 'rm -rf "$W"' EXIT
# The reference RTL with its modules and macros renamed (o_*, OFS_*, OEV_*).
for f in fix_sequencer fix_framer fix_byte_step fix_frame_fifo fix_seq_core; do
  git show "$REV:fpga/rtl/$f.v" | sed -e 's/\bfix_sequencer\b/o_fix_sequencer/g; s/\bfix_framer\b/o_fix_framer/g; s/\bfix_byte_step\b/o_fix_byte_step/g; s/\bfix_frame_fifo\b/o_fix_frame_fifo/g; s/\bfix_seq_core\b/o_fix_seq_core/g; s/`FS_/`OFS_/g; s/`EV_/`OEV_/g; s/fix_defs.vh/o_fix_defs.vh/' > "$W/o_$f.v"
done
git show "$REV:fpga/rtl/fix_defs.vh" | sed -e 's/define FS_/define OFS_/; s/define EV_/define OEV_/; s/FIX_DEFS_VH/O_FIX_DEFS_VH/g' > "$W/o_fix_defs.vh"
RTL=fpga/rtl
iverilog -g2005 -I$RTL -I"$W" -o "$W/sim" fpga/synth/equiv/tb.v \
  $RTL/fix_sequencer.v $RTL/fix_framer.v $RTL/fix_byte_step.v $RTL/fix_frame_fifo.v $RTL/fix_seq_core.v \
  "$W"/o_fix_sequencer.v "$W"/o_fix_framer.v "$W"/o_fix_byte_step.v "$W"/o_fix_frame_fifo.v "$W"/o_fix_seq_core.v
fail=0
for s in $SEEDS; do
  (cd "$W" && python3 "$OLDPWD/fpga/synth/equiv/gen.py" "$s" "$MSGS" > /dev/null && vvp -n sim > out.txt)
  line=$(grep DONE "$W/out.txt" || echo "DONE missing")
  echo "seed $s: $line"
  grep -q "errors=0$" <<<"$line" || { fail=1; grep MISMATCH -A2 "$W/out.txt" | head -12; }
done
exit $fail
