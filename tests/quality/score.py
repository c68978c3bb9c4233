#!/usr/bin/env python3
"""Scores a recorded (degraded) speech signal against the one that was sent.

Both files are raw s16le, 48 kHz, mono. Steps: find the delay of DEG relative to REF by FFT
cross-correlation of 16 kHz versions (search +-5 s), align and trim both to the overlap,
resample to 16 kHz (resample_poly 1:3) and compute PESQ-WB; also a speech-presence measure of
DEG and the normalised correlation of the aligned signals.

Usage:
  score.py --ref SENT.pcm --deg RECORDED.pcm [--json]
  score.py --self-test [--sample SAMPLE.pcm]

Run it with the venv from scripts/pyenv.sh (numpy, scipy, pesq).
"""

import argparse
import json
import math
import os
import sys

import numpy as np
from scipy import signal

RATE = 48000
PESQ_RATE = 16000
DECIMATION = RATE // PESQ_RATE
MAX_SHIFT_S = 5.0
BLOCK_S = 0.020
SPEECH_DBFS = -45.0
DEFAULT_SAMPLES = os.environ.get("TGVOIP_SAMPLES", "/work/shared/samples")


def read_pcm(path):
    """Reads s16le mono PCM as float64 in [-1, 1)."""
    return np.fromfile(path, dtype="<i2").astype(np.float64) / 32768.0


def to_16k(x):
    """48 kHz -> 16 kHz."""
    return signal.resample_poly(x, 1, DECIMATION)


def find_delay(ref, deg):
    """Delay of DEG relative to REF in 48 kHz samples (positive: DEG lags), from 16 kHz xcorr."""
    r, d = to_16k(ref), to_16k(deg)
    if not np.any(r) or not np.any(d):
        return 0
    xc = signal.correlate(d, r, mode="full", method="fft")
    lags = signal.correlation_lags(len(d), len(r), mode="full")
    window = np.abs(lags) <= int(MAX_SHIFT_S * PESQ_RATE)
    best = int(np.argmax(xc[window]))
    return int(lags[window][best]) * DECIMATION


def align(ref, deg, delay):
    """Shifts by DELAY (48 kHz samples) and trims both to the overlap."""
    if delay >= 0:
        deg = deg[delay:]
    else:
        ref = ref[-delay:]
    n = min(len(ref), len(deg))
    return ref[:n], deg[:n]


def dbfs(rms):
    """RMS level in dB relative to a full-scale square wave (-inf for silence)."""
    return 20.0 * math.log10(rms) if rms > 0 else float("-inf")


def speech_fraction(x, threshold_dbfs=SPEECH_DBFS):
    """Fraction of 20 ms blocks whose RMS is above THRESHOLD_DBFS (default -45 dBFS)."""
    block = int(BLOCK_S * RATE)
    n = len(x) // block
    if n == 0:
        return 0.0
    blocks = x[: n * block].reshape(n, block)
    rms = np.sqrt(np.mean(blocks**2, axis=1))
    return float(np.mean(rms > 10 ** (threshold_dbfs / 20.0)))


def normalised_corr(a, b):
    """Zero-lag normalised cross-correlation of two aligned signals (0 if either is silent)."""
    den = math.sqrt(float(np.dot(a, a)) * float(np.dot(b, b)))
    return float(np.dot(a, b)) / den if den > 0 else 0.0


def pesq_wb(ref16, deg16):
    """PESQ-WB MOS-LQO, or (None, error string)."""
    from pesq import pesq  # imported late so --help works without the extension

    if not np.any(ref16) or not np.any(deg16):
        return None, "digital silence (all samples zero)"
    try:
        return float(pesq(PESQ_RATE, ref16, deg16, "wb")), None
    except Exception as e:  # pesq raises its own error types (no utterances, too short, ...)
        return None, f"{type(e).__name__}: {e}"


def score(ref, deg, speech_dbfs=SPEECH_DBFS):
    """All measures for 48 kHz float signals, as a dict."""
    delay = find_delay(ref, deg)
    ref_a, deg_a = align(ref, deg, delay)
    result = {
        "pesq_wb": None,
        "delay_ms": delay * 1000.0 / RATE,
        "speech_fraction": speech_fraction(deg_a, speech_dbfs),
        "rms_dbfs": None,
        "corr": normalised_corr(ref_a, deg_a),
        "overlap_s": len(deg_a) / RATE,
        "ref_speech_fraction": speech_fraction(ref_a, speech_dbfs),
    }
    level = dbfs(math.sqrt(float(np.mean(deg_a**2)))) if len(deg_a) else float("-inf")
    result["rms_dbfs"] = level if math.isfinite(level) else None
    if len(deg_a) == 0:
        result["pesq_error"] = "no overlap between the signals"
        return result
    value, err = pesq_wb(to_16k(ref_a), to_16k(deg_a))
    result["pesq_wb"] = value
    if err is not None:
        result["pesq_error"] = err
    return result


def report(result, as_json):
    if as_json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k}: {v:.3f}" if isinstance(v, float) else f"{k}: {v}")


def pick_sample(path):
    if path:
        return path
    names = sorted(n for n in os.listdir(DEFAULT_SAMPLES) if n.endswith(".pcm") and "silence" not in n)
    if not names:
        raise SystemExit(f"no sample in {DEFAULT_SAMPLES}")
    return os.path.join(DEFAULT_SAMPLES, names[0])


def self_test(sample_path):
    """Checks the scorer on known inputs; returns the number of failed expectations."""
    ref = read_pcm(pick_sample(sample_path))
    rng = np.random.default_rng(1)
    shift = int(0.250 * RATE)
    noise = 10 ** (-70 / 20.0) * rng.standard_normal(len(ref) + shift)
    delayed = np.concatenate([np.zeros(shift), ref]) + noise
    silence = 10 ** (-80 / 20.0) * rng.standard_normal(len(ref))
    leading = ref[int(0.1 * RATE) :]  # DEG starts 100 ms into REF: delay -100 ms

    cases = [
        ("delayed 250 ms + noise", delayed, [
            ("pesq_wb > 4", lambda r: r["pesq_wb"] is not None and r["pesq_wb"] > 4.0),
            ("delay_ms ~ 250", lambda r: abs(r["delay_ms"] - 250.0) <= 1.0),
            ("corr > 0.99", lambda r: r["corr"] > 0.99),
            ("speech_fraction > 0.3", lambda r: r["speech_fraction"] > 0.3),
        ]),
        ("leading 100 ms", leading, [
            ("delay_ms ~ -100", lambda r: abs(r["delay_ms"] + 100.0) <= 1.0),
            ("pesq_wb > 4", lambda r: r["pesq_wb"] is not None and r["pesq_wb"] > 4.0),
        ]),
        ("silence", silence, [
            ("speech_fraction < 0.05", lambda r: r["speech_fraction"] < 0.05),
            ("rms_dbfs < -70", lambda r: r["rms_dbfs"] is None or r["rms_dbfs"] < -70.0),
            ("pesq low or null", lambda r: r["pesq_wb"] is None or r["pesq_wb"] < 2.0),
        ]),
    ]
    failures = 0
    for name, deg, checks in cases:
        result = score(ref, deg)
        print(f"{name}: {json.dumps(result)}")
        for label, ok in checks:
            passed = ok(result)
            failures += not passed
            print(f"  {'ok  ' if passed else 'FAIL'} {label}")
    print("self-test passed" if failures == 0 else f"self-test FAILED ({failures})")
    return failures


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ref", help="sent signal, s16le 48 kHz mono")
    p.add_argument("--deg", help="recorded signal, s16le 48 kHz mono")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.add_argument("--speech-dbfs", type=float, default=SPEECH_DBFS,
                   help="block RMS above which a 20 ms block counts as speech (default -45)")
    p.add_argument("--self-test", action="store_true", help="check the scorer on a sample")
    p.add_argument("--sample", help="sample for --self-test (default: first in $TGVOIP_SAMPLES)")
    args = p.parse_args(argv)
    if args.self_test:
        return 1 if self_test(args.sample) else 0
    if not args.ref or not args.deg:
        p.error("--ref and --deg are required")
    report(score(read_pcm(args.ref), read_pcm(args.deg), args.speech_dbfs), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
