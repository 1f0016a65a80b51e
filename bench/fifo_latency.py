#!/usr/bin/env python3
"""fifo_latency.py — how long a match takes to leave `cepheus run` on a live
stream (issue 16). Events go into a FIFO that stays open; for each of N
matches, the time from writing the event that completes it to reading the
match line on the tool's stdout. Prints the median and the worst.

    python3 bench/fifo_latency.py ./cepheus [N] [extra run options...]
"""
import os, select, subprocess, sys, tempfile, time

def main():
    cep = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    extra = sys.argv[3:]
    d = tempfile.mkdtemp()
    pat = os.path.join(d, "p.cep")
    with open(pat, "w") as f:
        f.write('pattern p key u begin a where t == "a" followedBy b where t == "b"\n')
    fifo = os.path.join(d, "fifo")
    os.mkfifo(fifo)
    proc = subprocess.Popen([cep, "run", *extra, pat, fifo], stdout=subprocess.PIPE)
    w = os.open(fifo, os.O_WRONLY)
    out = proc.stdout.fileno()
    lat, missing = [], 0
    for i in range(n):
        ts = 2 * i + 1
        os.write(w, b'{"ts":%d,"u":%d,"t":"a"}\n' % (ts, i))
        time.sleep(0.005)
        t0 = time.monotonic()
        os.write(w, b'{"ts":%d,"u":%d,"t":"b"}\n' % (ts + 1, i))
        line = b""
        while not line.endswith(b"\n"):
            r, _, _ = select.select([out], [], [], 2.0)
            if not r:
                break
            line += os.read(out, 65536)
        if line.endswith(b"\n"):
            lat.append(time.monotonic() - t0)
        else:
            missing += 1
            if missing >= 3:
                break
        time.sleep(0.01)
    os.close(w)
    proc.wait()
    if lat:
        lat.sort()
        print("%d matches: median %.3f ms, worst %.3f ms; %d not out within 2 s"
              % (len(lat), lat[len(lat) // 2] * 1000, lat[-1] * 1000, missing))
    else:
        print("no match out within 2 s of its event (%d tried)" % missing)

main()
