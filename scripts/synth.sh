#!/usr/bin/env bash
# Synthesize the sequencer RTL with yosys synth_xilinx and print LUT/FF/BRAM counts.
# Hierarchical (no -flatten): fix_byte_step is mapped once and counted once per instance (8),
# which keeps ABC's run time in minutes; cross-module optimisation is forgone (a flattened run
# of an earlier revision did not finish ABC in 25 minutes on the shared 2-core build machine).
#
# Usage: scripts/synth.sh [SESSIONS WINDOW]   (defaults: 64 256, the RTL defaults)
# Writes the full log and statistics to fpga/synth/out/ (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
SESSIONS=${1:-64}
WINDOW=${2:-256}
log2() { local v=$1 n=0; while [ $((1 << n)) -lt "$v" ]; do n=$((n + 1)); done; echo $n; }
SW=$(log2 "$SESSIONS")
WW=$(log2 "$WINDOW")
OUT=fpga/synth/out
mkdir -p "$OUT"
RTL=fpga/rtl
FILES="$RTL/fix_byte_step.v $RTL/fix_framer.v $RTL/fix_frame_fifo.v $RTL/fix_seq_core.v $RTL/fix_sequencer.v"
echo "synth.sh: yosys synth_xilinx fix_sequencer SESSIONS=$SESSIONS WINDOW=$WINDOW"
start=$(date +%s)
yosys -q -l "$OUT/synth.log" -p "
read_verilog -I$RTL $FILES
chparam -set SESSIONS $SESSIONS -set SESSION_W $SW -set WINDOW $WINDOW -set WINDOW_W $WW fix_sequencer
synth_xilinx -top fix_sequencer
tee -o $OUT/stat.txt stat
" >/dev/null
end=$(date +%s)
# Summarise the cell counts by resource class (the design-hierarchy totals: every module's
# cells times its instance count).
awk '
/=== design hierarchy ===/ { h=1 }
h && (/^ +[0-9]+ +\$?[A-Za-z0-9_]+$/ || /^ +\$?[A-Za-z0-9_]+ +[0-9]+$/) {
  if ($1 ~ /^[0-9]+$/) { n=$1; c=$2 } else { c=$1; n=$2 }
  if (c ~ /^LUT[1-6]$/) lut+=n
  else if (c ~ /^FD[RSCP]E?$/) ff+=n
  else if (c ~ /^RAMB(18|36)/) bram+=n
  else if (c ~ /^RAM(32|64|128|256)[XM]/) { lutram+=n; lutram_luts+=(c ~ /M$/ ? 4 : 2)*n }
  else if (c ~ /^MUXF[78]$/) muxf+=n
  else if (c ~ /^CARRY/) carry+=n
  else if (c ~ /^DSP/) dsp+=n
}
END {
  printf "LUT (logic) %d\nLUTRAM cells %d (%d LUTs)\nFF %d\nBRAM %d\nDSP %d\nMUXF7/8 %d\nCARRY4 %d\n", lut, lutram, lutram_luts, ff, bram, dsp, muxf, carry
}' "$OUT/stat.txt" | tee "$OUT/summary.txt"
echo "synth.sh: done in $((end - start)) s (log: $OUT/synth.log)"
