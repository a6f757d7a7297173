#!/usr/bin/env bash
# Synthesize the sequencer RTL with yosys synth_xilinx, print LUT/FF/BRAM counts and the logic
# depth (LUT levels) of the longest register-to-register path, overall and per stage.
# Hierarchical (no -flatten): fix_byte_step is mapped once and counted once per instance (8),
# which keeps ABC's run time in minutes; cross-module optimisation is forgone (a flattened run
# of an earlier revision did not finish ABC in 25 minutes on the shared 2-core build machine).
#
# Depth: after the hierarchical mapping the netlist is flattened (no re-mapping, so no logic is
# merged across module boundaries: the depth is that of this mapping; a tool that optimises
# across boundaries may find less) and analysed by the embedded python3 script below.
# It is logic depth, not timing: yosys has no delay model (see docs/sequencer.md 6.3).
#
# Usage: scripts/synth.sh [--update] [SESSIONS WINDOW]   (defaults: 64 256, the RTL defaults)
# Writes the full log, statistics, flattened netlist (JSON) and, to fpga/synth/out/ (not
# committed): summary.txt (the resource lines), depth.txt (the depth lines) and results.txt (both).
# With --update (default configuration only) results.txt is also copied to fpga/synth/results.txt,
# the committed result that scripts/ci/fpga.sh compares a fresh run with (yosys is deterministic
# for one version and input).
set -euo pipefail
cd "$(dirname "$0")/.."
UPDATE=0
if [ "${1:-}" = "--update" ]; then
  UPDATE=1
  shift
fi
SESSIONS=${1:-64}
WINDOW=${2:-256}
if [ "$UPDATE" = 1 ] && { [ "$SESSIONS" != 64 ] || [ "$WINDOW" != 256 ]; }; then
  echo "synth.sh: --update writes the default configuration's result (64 256) only" >&2
  exit 2
fi
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
flatten
opt_clean
write_json $OUT/netlist_flat.json
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
# Logic depth of the flattened netlist. Nodes are cells; a LUT-RAM cell is one node per read port
# (DOx depends on ADDRx; its DI, WE and write address are endpoints); flip-flops are cut (D is an
# endpoint, Q a start point); module ports are start/end points. Levels: LUT1-6, INV and LUT-RAM
# reads count one each; MUXF7/8 and CARRY4 cells on the path are counted apart. For the longest
# path overall and the longest through each stage it prints the levels and the signals it runs
# through, then a delay range from rule-of-thumb per-cell figures (see docs/sequencer.md 6.3).
dstart=$(date +%s)
if command -v python3 >/dev/null; then
rm -f "$OUT/depth.txt"
python3 - "$OUT/netlist_flat.json" fix_sequencer u_framer u_seq <<'PY' | tee "$OUT/depth.txt"
import json, re, sys
from collections import Counter

fn, top, groups = sys.argv[1], sys.argv[2], sys.argv[3:]
mods = json.load(open(fn))["modules"]
# chparam renames the top ($paramod...); take the module marked top.
m = next((v for v in mods.values() if int(v.get("attributes", {}).get("top", "0"), 2)), mods.get(top))
names = {}
for nm, n in m["netnames"].items():
    if nm.startswith("$"):
        continue
    for i, b in enumerate(n["bits"]):
        lab = nm if len(n["bits"]) == 1 else "%s[%d]" % (nm, i)
        # Prefer a name inside a module instance (u_seq.e_i over the top's verdict bus).
        key = ("." not in lab, len(lab))
        if not isinstance(b, str) and (b not in names or key < names[b][0]):
            names[b] = (key, lab)
names = {b: lab for b, (_, lab) in names.items()}


def cls(t):
    if t.startswith("LUT") or t == "INV":
        return "LUT"
    for k in ("MUXF", "CARRY", "FD", "RAM"):
        if t.startswith(k):
            return k
    return "OTHER"


nodes = {}
for cn, c in m["cells"].items():
    d, con = c.get("port_directions", {}), c["connections"]
    bits = lambda ps: [b for p in ps for b in con.get(p, []) if not isinstance(b, str)]
    outs = [p for p in con if d.get(p) == "output"]
    ins = [p for p in con if d.get(p) == "input"]
    k = cls(c["type"])
    if k == "RAM":
        for p in outs:
            nodes[cn + "#" + p] = (c["type"], bits(["ADDR" + p[2:]]), bits([p]))
    else:
        nodes[cn] = (c["type"], [] if k == "FD" else bits(ins), bits(outs))
drv = {b: n for n, (_, _, o) in nodes.items() for b in o}
pred = {n: {drv[b] for b in i if b in drv} for n, (_, i, _) in nodes.items()}
succ = {n: set() for n in nodes}
for n, ps in pred.items():
    for p in ps:
        succ[p].add(n)
# LUT levels first; among paths with as many, the one with the most MUXF7/8 and CARRY4 delay.
W = {"LUT": 1000, "RAM": 1000, "MUXF": 2, "CARRY": 1}
w = {n: W.get(cls(t), 0) for n, (t, _, _) in nodes.items()}
indeg = {n: len(pred[n]) for n in nodes}
order = [n for n in nodes if indeg[n] == 0]
for n in order:
    for s in succ[n]:
        indeg[s] -= 1
        if indeg[s] == 0:
            order.append(s)
if len(order) != len(nodes):
    print("warning: %d cells on combinational loops are not analysed" % (len(nodes) - len(order)))
f, fp, g, gp = {}, {}, {}, {}
for n in order:
    b = max((p for p in pred[n] if p in f), key=lambda p: f[p], default=None)
    f[n], fp[n] = w[n] + (f[b] if b else 0), b
for n in reversed(order):
    b = max((s for s in succ[n] if s in g), key=lambda s: g[s], default=None)
    g[n], gp[n] = w[n] + (g[b] if b else 0), b


def report(label, cand):
    if not cand:
        print("%s: no path" % label)
        return
    n = max(cand, key=lambda x: (f[x] + g[x] - w[x], x))
    p, x = [], n
    while x:
        p.append(x)
        x = fp[x]
    p.reverse()
    x = gp[n]
    while x:
        p.append(x)
        x = gp[x]
    cnt = Counter(cls(nodes[x][0]) for x in p)
    lv = cnt["LUT"] + cnt["RAM"]
    start = next((names[b] for b in nodes[p[0]][1] + nodes[p[0]][2] if b in names), "?")
    via = []
    for x in p:
        lab = next((names[b] for b in nodes[x][2] if b in names), None)
        if lab:
            lab = re.sub(r"\[\d+\]$", "", lab)
            if lab not in via:
                via.append(lab)
    muxf, carry = cnt["MUXF"], cnt["CARRY"]
    # Rule of thumb, not a timing model: 0.3-0.5 ns per LUT level with its routing,
    # 0.05-0.1 ns per CARRY4, 0.1-0.2 ns per MUXF7/8, 0.5 ns clock-to-out + setup + skew.
    lo = 0.5 + 0.3 * lv + 0.05 * carry + 0.1 * muxf
    hi = 0.5 + 0.5 * lv + 0.1 * carry + 0.2 * muxf
    print("%s: %d LUT levels (incl. %d LUT-RAM reads) + %d MUXF7/8 + %d CARRY4"
          % (label, lv, cnt["RAM"], muxf, carry))
    print("    estimate from logic depth, not a timing-closed result: %.1f-%.1f ns (%d-%d MHz)"
          % (lo, hi, 1000 / hi, 1000 / lo))
    print("    from %s via %s" % (start, " > ".join(via)))


report("longest register-to-register path", order)
for gr in groups:
    report("longest path through %s" % gr,
           [n for n in order if re.sub(r"^\$flatten\\", "", n).startswith(gr + ".")])
PY
else
  echo "synth.sh: python3 not found, logic depth not analysed"
fi
cat "$OUT/summary.txt" > "$OUT/results.txt"
if [ -f "$OUT/depth.txt" ]; then cat "$OUT/depth.txt" >> "$OUT/results.txt"; fi
if [ "$UPDATE" = 1 ]; then
  cp "$OUT/results.txt" fpga/synth/results.txt
  echo "synth.sh: wrote fpga/synth/results.txt"
fi
end2=$(date +%s)
echo "synth.sh: done in $((end2 - start)) s (synthesis $((end - start)) s, depth $((end2 - dstart)) s; log: $OUT/synth.log)"
