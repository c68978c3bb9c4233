#!/usr/bin/env python3
"""Call-quality benchmark: real calls through `tgvoip-reflector` on every network profile.

For each profile, seed and pairing it starts the relay (with `--trace`), a caller and a callee
(`tgvoip-call`, or the libtgvoip interop peer, which has the same command line), feeds each side
a speech sample, and measures per direction:

* PESQ-WB of what the receiver played against what the sender read (tests/quality/score.py),
* mouth-to-ear delay: receiver's first playout minus sender's first capture (TIMESTAMPS) plus the
  alignment delay of the recording (as tests/call_e2e.rs computes it),
* bitrate on the wire (IP + UDP headers included, from the relay trace) and the relay's queue
  drops, and the longest stretch during which the sender pushed more than the link's rate into
  the rate limiter (`over_s`, 1 s sliding windows).

Prints one table (means over seeds), writes JSON with every run, and a PNG if matplotlib exists.
It asserts nothing about quality; exit status 1 only if a call could not be run at all.

Usage (normally through scripts/quality-bench.sh):
  quality_bench.py [--quick] [--profiles wifi,3g2] [--seeds 3] [--peer-cmd "PY peer.py"]
                   [--pairings rs-rs,rs-lib,lib-lib] [--out DIR] [--bin-dir target/release]
"""

import argparse
import json
import math
import os
import shlex
import signal
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "quality"))
import score as scorer  # noqa: E402

PROFILES = ["wifi", "3g1", "3g2", "3g3", "3g4", "3gdelay", "3goutage",
            "edge1", "edge2", "gprs1", "gprs2", "gprs3"]
QUICK_PROFILES = ["wifi", "3g2"]
# NET_TYPE_* passed with -t: what a phone on that network would report.
NET_TYPE = {"wifi": 6, "edge1": 2, "edge2": 2, "gprs1": 1, "gprs2": 1, "gprs3": 1}
# Caller / callee sample pairs; seed i uses pair i % len.
SAMPLE_PAIRS = [
    ("sample05_14ae7b1886265e54e7f2c83d67eb802e.pcm", "sample05_44823b5704b026f2930ad862576bef3c.pcm"),
    ("sample14_1610bcfe3d4a5409ca90463ea8c0ef8f.pcm", "sample15_03c54b861f72cce82609dd3acbaa85fb.pcm"),
]
CALLER_TAG = "0123456789abcdef0123456789abcd00"
CALLEE_TAG = "0123456789abcdef0123456789abcd01"
KEY_HEX = "".join(f"{(i * 37 + 11) % 256:02x}" for i in range(256))
DIRS = {"caller_to_callee": ("caller", "callee"), "callee_to_caller": ("callee", "caller")}


def shared_dir():
    d = os.environ.get("TGVOIP_SHARED_DIR")
    if d:
        return d
    for rel in ("../shared", "../../shared"):
        p = os.path.normpath(os.path.join(ROOT, rel))
        if os.path.isdir(os.path.join(p, "samples")):
            return p
    sys.exit("quality_bench: shared folder not found: set TGVOIP_SHARED_DIR")


def start_reflector(bin_dir, profile, seed, trace):
    p = subprocess.Popen(
        [os.path.join(bin_dir, "tgvoip-reflector"), "--listen", "127.0.0.1:0",
         "--profile", profile, "--seed", str(seed), "--trace", trace],
        stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()
    if not line.startswith("listening on "):
        p.kill()
        raise RuntimeError(f"reflector said {line!r}")
    return p, line[len("listening on "):]


def stop_reflector(p):
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=10)
    for line in reversed(out.splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return {}


def spawn(cmd, relay, role, inp, out, pre, nettype):
    tag = CALLER_TAG if role == "caller" else CALLEE_TAG
    argv = list(cmd) + [relay, tag, "-k", KEY_HEX, "-r", role, "-i", inp, "-o", out, "-p", pre]
    if nettype is not None:
        argv += ["-t", str(nettype)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(p, timeout):
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    debug, ts = {}, [0] * 5
    for line in out.splitlines():
        if line.startswith("TIMESTAMPS: "):
            ts = [int(v or 0) for v in line[len("TIMESTAMPS: "):].split(",")][:5]
        elif not debug:
            try:
                debug = json.loads(line)
            except ValueError:
                pass
    return {"ok": p.returncode == 0, "debug": debug, "ts": ts, "stderr": err[-2000:]}


def trace_stats(path, direction):
    """Mean kbit/s while sending, longest over-rate stretch (s), from the relay trace."""
    try:
        with open(path) as f:
            bins = [json.loads(l) for l in f if l.strip()]
    except OSError:
        return None, None
    if not bins:
        return None, None
    dt = bins[1]["t"] - bins[0]["t"] if len(bins) > 1 else 0.5
    rows = [b[direction] for b in bins]
    active = [r for r in rows if r["offered"] > 0]
    kbps = (sum(r["offered"] for r in active) * 8 / 1000 / (len(active) * dt)) if active else 0.0
    # 1 s windows (two bins) of bytes entering the limiter vs the link rate.
    longest = run = 0.0
    for i in range(1, len(rows)):
        rate = rows[i]["rate_kbit"] or rows[i - 1]["rate_kbit"]
        window = (rows[i]["to_limiter"] + rows[i - 1]["to_limiter"]) * 8 / 1000 / (2 * dt)
        if rate > 0 and window > rate:
            run += dt
            longest = max(longest, run)
        else:
            run = 0.0
    return kbps, longest


def score_dir(ref, deg, ref_limit):
    r = scorer.read_pcm(ref)[:ref_limit] if ref_limit else scorer.read_pcm(ref)
    try:
        d = scorer.read_pcm(deg)
    except OSError:
        return {"pesq_wb": None, "delay_ms": None, "pesq_error": "no recording"}
    if len(d) == 0:
        return {"pesq_wb": None, "delay_ms": None, "pesq_error": "empty recording"}
    return scorer.score(r, d)


def run_one(args, pairing, cmds, profile, seed, samples_dir, work):
    caller_sample, callee_sample = SAMPLE_PAIRS[seed % len(SAMPLE_PAIRS)]
    inputs = {"caller": os.path.join(samples_dir, caller_sample),
              "callee": os.path.join(samples_dir, callee_sample)}
    limit = None
    if args.quick:
        # A few seconds of each sample.
        limit = int(args.quick_seconds * scorer.RATE)
        for role in inputs:
            short = os.path.join(work, f"in_{role}.pcm")
            np.fromfile(inputs[role], dtype="<i2")[:limit].tofile(short)
            inputs[role] = short
    trace = os.path.join(work, "trace.jsonl")
    relay, addr = start_reflector(args.bin_dir, profile, seed, trace)
    net = NET_TYPE.get(profile, 3)
    procs = {}
    try:
        for role in ("caller", "callee"):
            procs[role] = spawn(cmds[role], addr, role, inputs[role],
                                os.path.join(work, f"out_{role}.pcm"),
                                os.path.join(work, f"pre_{role}.pcm"), net)
            if role == "caller":
                time.sleep(0.05)
        seconds = max(os.path.getsize(p) for p in inputs.values()) / 2 / scorer.RATE
        res = {role: finish(p, seconds + 40) for role, p in procs.items()}
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
        counts = stop_reflector(relay)
    run = {"pairing": pairing, "profile": profile, "seed": seed,
           "ok": all(r["ok"] for r in res.values()), "directions": {}}
    for direction, (src, dst) in DIRS.items():
        s = score_dir(inputs[src], os.path.join(work, f"out_{dst}.pcm"), limit)
        a, b = res[src]["ts"], res[dst]["ts"]
        m2e = None
        if a[1] and b[3] and s.get("delay_ms") is not None:
            m2e = (b[3] - a[1]) / 1000.0 + s["delay_ms"]
        kbps, over = trace_stats(trace, direction)
        c = counts.get(direction, {})
        run["directions"][direction] = {
            "pesq_wb": s.get("pesq_wb"), "pesq_error": s.get("pesq_error"),
            "align_delay_ms": s.get("delay_ms"), "corr": s.get("corr"),
            "mouth_to_ear_ms": m2e, "wire_kbps": kbps, "over_rate_s": over,
            "dropped_queue": c.get("dropped_queue"), "dropped_loss": c.get("dropped_loss"),
            "received": c.get("received"), "sender_ok": res[src]["ok"],
            "receiver_ok": res[dst]["ok"],
        }
    if not run["ok"]:
        run["stderr"] = {k: v["stderr"] for k, v in res.items()}
    return run


def mean(xs):
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return sum(xs) / len(xs) if xs else None


def aggregate(runs):
    agg = {}
    for r in runs:
        for d, v in r["directions"].items():
            agg.setdefault((r["pairing"], r["profile"], d), []).append(v)
    out = []
    for (pairing, profile, d), vs in agg.items():
        row = {"pairing": pairing, "profile": profile, "direction": d, "runs": len(vs)}
        for k in ("pesq_wb", "mouth_to_ear_ms", "wire_kbps", "dropped_queue", "over_rate_s"):
            row[k] = mean([v[k] for v in vs])
        row["over_rate_s_max"] = max((v["over_rate_s"] or 0.0) for v in vs)
        row["failed"] = sum(not (v["sender_ok"] and v["receiver_ok"]) for v in vs)
        out.append(row)
    return out


def fmt(v, spec):
    return format(v, spec) if v is not None else "-"


def print_table(rows, pairings, profiles):
    print(f"{'pairing':8} {'profile':9} {'dir':4} {'PESQ':>5} {'m2e ms':>7} {'kbit/s':>7} "
          f"{'qdrop':>6} {'over s':>6} {'fail':>4}")
    for pairing in pairings:
        for profile in profiles:
            for r in rows:
                if r["pairing"] != pairing or r["profile"] != profile:
                    continue
                d = "a->b" if r["direction"] == "caller_to_callee" else "b->a"
                print(f"{pairing:8} {profile:9} {d:4} {fmt(r['pesq_wb'], '5.2f')} "
                      f"{fmt(r['mouth_to_ear_ms'], '7.0f')} {fmt(r['wire_kbps'], '7.1f')} "
                      f"{fmt(r['dropped_queue'], '6.1f')} {fmt(r['over_rate_s_max'], '6.1f')} "
                      f"{r['failed']:4d}")
    summary = {}
    for pairing in pairings:
        sel = [r for r in rows if r["pairing"] == pairing]
        per_profile = [mean([r["pesq_wb"] for r in sel if r["profile"] == p]) for p in profiles]
        summary[pairing] = {"mean_pesq_wb": mean(per_profile)}
        wifi = [r["mouth_to_ear_ms"] for r in sel if r["profile"] == "wifi"]
        summary[pairing]["wifi_mouth_to_ear_ms"] = mean(wifi)
        print(f"{pairing}: mean PESQ-WB over {len(profiles)} profiles "
              f"{fmt(summary[pairing]['mean_pesq_wb'], '.2f')}, wifi mouth-to-ear "
              f"{fmt(summary[pairing]['wifi_mouth_to_ear_ms'], '.0f')} ms")
    return summary


def plot(rows, pairings, profiles, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(12, 7), sharex=True)
    width = 0.8 / max(1, len(pairings))
    for i, pairing in enumerate(pairings):
        q = [mean([r["pesq_wb"] for r in rows if r["pairing"] == pairing and r["profile"] == p]) or 0 for p in profiles]
        d = [mean([r["mouth_to_ear_ms"] for r in rows if r["pairing"] == pairing and r["profile"] == p]) or 0 for p in profiles]
        xs = [j + i * width for j in range(len(profiles))]
        ax1.bar(xs, q, width, label=pairing)
        ax2.bar(xs, d, width, label=pairing)
    ax1.set_ylabel("PESQ-WB")
    ax2.set_ylabel("mouth-to-ear ms")
    ax2.set_xticks([j + 0.4 - width / 2 for j in range(len(profiles))], profiles)
    ax1.legend()
    fig.tight_layout()
    fig.savefig(path)
    return True


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="two profiles, one seed, a few seconds (CI)")
    p.add_argument("--quick-seconds", type=float, default=3.0)
    p.add_argument("--profiles", help="comma-separated (default: all 12, or wifi,3g2 with --quick)")
    p.add_argument("--seeds", type=int, help="seeds per profile and pairing (default 2; 1 with --quick)")
    p.add_argument("--peer-cmd", default=os.environ.get("TGVOIP_PEER_CMD"),
                   help="libtgvoip interop peer command (same CLI as tgvoip-call); enables rs-lib and lib-lib")
    p.add_argument("--pairings", help="comma-separated subset of rs-rs,rs-lib,lib-lib")
    p.add_argument("--bin-dir", default=os.path.join(ROOT, "target", "release"))
    p.add_argument("--out", default=os.path.join(ROOT, "target", "quality-bench"))
    p.add_argument("--label", default="", help="free text stored in the JSON (e.g. a commit)")
    args = p.parse_args()

    profiles = (args.profiles.split(",") if args.profiles
                else QUICK_PROFILES if args.quick else PROFILES)
    seeds = args.seeds or (1 if args.quick else 2)
    rs = [os.path.join(args.bin_dir, "tgvoip-call")]
    lib = shlex.split(args.peer_cmd) if args.peer_cmd else None
    all_pairings = {"rs-rs": (rs, rs)}
    if lib:
        all_pairings["rs-lib"] = (rs, lib)
        all_pairings["lib-lib"] = (lib, lib)
    pairings = args.pairings.split(",") if args.pairings else list(all_pairings)
    for name in pairings:
        if name not in all_pairings:
            sys.exit(f"quality_bench: pairing {name} needs --peer-cmd" if name in ("rs-lib", "lib-lib")
                     else f"quality_bench: unknown pairing {name}")
    samples_dir = os.path.join(shared_dir(), "samples")
    os.makedirs(args.out, exist_ok=True)

    runs = []
    broken = 0
    for pairing in pairings:
        caller_cmd, callee_cmd = all_pairings[pairing]
        for profile in profiles:
            for seed in range(1, seeds + 1):
                work = os.path.join(args.out, "calls", f"{pairing}-{profile}-{seed}")
                os.makedirs(work, exist_ok=True)
                t0 = time.time()
                try:
                    run = run_one(args, pairing, {"caller": caller_cmd, "callee": callee_cmd},
                                  profile, seed, samples_dir, work)
                except Exception as e:  # a call that could not run at all
                    broken += 1
                    print(f"[{pairing} {profile} seed {seed}] could not run: {e}", file=sys.stderr)
                    continue
                runs.append(run)
                q = [run["directions"][d]["pesq_wb"] for d in DIRS]
                print(f"[{pairing} {profile} seed {seed}] {time.time() - t0:.0f} s, PESQ "
                      + " / ".join(fmt(x, ".2f") for x in q), file=sys.stderr, flush=True)

    rows = aggregate(runs)
    summary = print_table(rows, pairings, profiles)
    result = {"label": args.label, "quick": args.quick, "profiles": profiles, "seeds": seeds,
              "pairings": pairings, "summary": summary, "rows": rows, "runs": runs}
    json_path = os.path.join(args.out, "quality-bench.json")
    with open(json_path, "w") as f:
        json.dump(result, f, indent=1)
    print(f"JSON: {json_path}")
    png = os.path.join(args.out, "quality-bench.png")
    if plot(rows, pairings, profiles, png):
        print(f"plot: {png}")
    return 1 if broken or not runs else 0


if __name__ == "__main__":
    sys.exit(main())
