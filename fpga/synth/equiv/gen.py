# Traffic for the equivalence bench (run.sh): gen.py SEED MESSAGES writes stim.txt.
import random, sys
r = random.Random(int(sys.argv[1]))
SOH = b"\x01"
def msg(begin=b"FIX.4.4", body=None, blen=None, ck=None):
    if body is None:
        f = [b"35=" + r.choice([b"D", b"0", b"A", b"4", b"8", b"AB", b"ABCDE"])]
        for _ in range(r.randint(0, 6)):
            t = r.choice([b"34", b"36", b"43", b"97", b"123", b"141", b"034", b"00034", b"000034", b"55", b"1x", b"12", b"14", b"3"])
            v = r.choice([b"Y", b"N", b"1", b"0", b"2147483647", b"2147483648", b"999999999", b"12345678901", b"17", b"1a", b"", b"YY", str(r.randint(1, 10**6)).encode()])
            f.append(t + b"=" + v)
        body = SOH.join(f) + SOH
    L = len(body) if blen is None else blen
    head = b"8=" + begin + SOH + b"9=" + (str(L).encode() if isinstance(L, int) else L) + SOH
    m = head + body
    c = sum(m) % 256 if ck is None else ck
    return m + b"10=" + b"%03d" % c + SOH
out = bytearray()
for _ in range(int(sys.argv[2])):
    k = r.random()
    bg = r.choice([b"FIX.4.4", b"FIXT.1.1", b"FIX.4.2"])
    if k < 0.45:
        out += msg(bg)
    elif k < 0.65:
        # BodyLength near the TOO_LONG boundary (MAX_MSG 4096): h + L + 7 vs 4096
        n = r.randint(4, 9)
        L = 4096 - 20 - (1 if bg == b"FIXT.1.1" else 0) - n + r.randint(-2, 2)
        s = str(L).rjust(n, "0").encode()
        out += b"8=" + bg + SOH + b"9=" + s + SOH + b"35=D" + SOH + bytes(r.randint(0, 60))
    elif k < 0.75:
        body = b"35=0" + SOH
        out += msg(bg, body=body, blen=r.choice([len(body), len(body) - 1, len(body) + 1, 0, 1, 2, 3, 5, 7, 8, 9, b"0005", b"00000000005", b"", b"x"]))
    elif k < 0.85:
        out += msg(bg, ck=r.randint(0, 255))
    elif k < 0.93:
        m = msg(bg)
        out += m[: r.randint(1, len(m))]
    else:
        out += bytes(r.choice(b"8=FIX.4\x01T19=03AY") for _ in range(r.randint(1, 30)))
# cycles: tvalid tdata tkeep tuser mready
pos = 0; lines = []
sess_streams = {}
while pos < len(out):
    v = r.random() < 0.9
    mready = 1 if r.random() < 0.8 else 0
    if not v:
        lines.append("0 0000000000000000 00 00 %d" % mready); continue
    kmode = r.random()
    if kmode < 0.7:
        n = min(8, len(out) - pos); keep = (1 << n) - 1 if r.random() < 0.8 else (1 << r.randint(1, n)) - 1
    else:
        keep = r.randint(1, 255)
    chunk = []
    for i in range(8):
        if keep >> i & 1 and pos < len(out):
            chunk.append(out[pos]); pos += 1
        elif keep >> i & 1:
            keep &= ~(1 << i); chunk.append(0)
        else:
            chunk.append(r.randint(0, 255))
    if keep == 0:
        keep = 0
    data = sum(b << (8 * i) for i, b in enumerate(chunk))
    if r.random() < 0.02: cur = r.choice([0, 1, 5, 63])
    else: cur = globals().get("cur", 0)
    globals()["cur"] = cur
    lines.append("1 %016x %02x %02x %d" % (data, keep, cur, mready))
for _ in range(50): lines.append("0 0000000000000000 00 00 1")
open("stim.txt", "w").write("%d\n" % len(lines) + "\n".join(lines) + "\n")
print(len(lines), len(out))
