"""Benchmark of the metrics engine: time and peak memory of

(a) the streaming engine (CollapseStats over batches of 8,192 rows, then compute),
(b) an authors'-style in-memory path: full SVD of the centred M×d features, dense projection
    matrices for NRC1/NRC2 and a 1000-point γ grid for NRC3 (docs/benchmarks.md),
(c) the floor: one H.T @ H GEMM on the same data (float32 as stored, and float64).

Each measurement runs in a fresh subprocess so that peak RSS is its own. The streaming engine
reads the data batch by batch from a seeded generator, as it would from a DataLoader; the time
spent generating batches is measured and subtracted. Usage:

    .venv/bin/python benchmarks/bench_metrics.py [--sizes 10000,100000,1000000] [--dims 256,512]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import torch

BATCH = 8192
N_TARGETS = 3


def batches(m: int, d: int, seed: int = 0):
    """Seeded synthetic features (low-rank signal + noise) and targets, in batches."""
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(N_TARGETS, d, generator=g)
    for start in range(0, m, BATCH):
        b = min(BATCH, m - start)
        y = torch.randn(b, N_TARGETS, generator=g)
        h = y @ mix + 0.1 * torch.randn(b, d, generator=g) + 1.0
        yield h, y


def full_data(m: int, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    hs, ys = zip(*batches(m, d), strict=True)
    return torch.cat(hs), torch.cat(ys)


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_streaming(m: int, d: int) -> dict:
    from nrc.metrics import CollapseStats

    w = torch.randn(N_TARGETS, d, generator=torch.Generator().manual_seed(1))
    base = rss_mib()
    stats, gen_time, start = CollapseStats(), 0.0, time.perf_counter()
    source = batches(m, d)
    while True:
        t0 = time.perf_counter()
        item = next(source, None)
        gen_time += time.perf_counter() - t0
        if item is None:
            break
        stats.update(*item)
    report = stats.compute(w)
    return {
        "seconds": time.perf_counter() - start - gen_time,
        "peak_mib": rss_mib() - base,
        "nrc1": report.nrc1,
    }


def run_authors(m: int, d: int) -> dict:
    h, y = full_data(m, d)
    w = torch.randn(N_TARGETS, d, generator=torch.Generator().manual_seed(1)).double().numpy()
    base = rss_mib()
    start = time.perf_counter()
    hn = h.double().numpy()
    hc = hn - hn.mean(0)
    _, _, vt = np.linalg.svd(hc, full_matrices=False)
    p_pca = vt[:N_TARGETS].T @ vt[:N_TARGETS]
    h_tilde = hn / (np.linalg.norm(hn, axis=1, keepdims=True) + 1e-8)
    nrc1 = float(np.sum((h_tilde - h_tilde @ p_pca) ** 2) / m)
    p_w = w.T @ np.linalg.inv(w @ w.T) @ w
    _nrc2 = float(np.sum((h_tilde - h_tilde @ p_w) ** 2) / m)
    yn = y.double().numpy()
    sigma = np.cov(yn.T, bias=True)
    vals, vecs = np.linalg.eigh(sigma)
    root = vecs @ np.diag(np.sqrt(vals)) @ vecs.T
    a = w @ w.T / np.linalg.norm(w @ w.T)
    grid = [
        np.sum(
            (
                a
                - (root - np.sqrt(g) * np.eye(N_TARGETS))
                / np.linalg.norm(root - np.sqrt(g) * np.eye(N_TARGETS))
            )
            ** 2
        )
        for g in np.linspace(0, vals[0], 1000)
    ]
    _nrc3 = float(min(grid))
    return {"seconds": time.perf_counter() - start, "peak_mib": rss_mib() - base, "nrc1": nrc1}


def run_gemm(m: int, d: int, dtype: str) -> dict:
    h, _ = full_data(m, d)
    h = h.to(getattr(torch, dtype))
    base = rss_mib()
    h.T @ h
    start = time.perf_counter()
    h.T @ h
    return {"seconds": time.perf_counter() - start, "peak_mib": rss_mib() - base}


def measure(method: str, m: int, d: int) -> dict:
    """Run one measurement in a fresh interpreter and return its JSON result."""
    out = subprocess.run(
        [sys.executable, __file__, "--one", method, str(m), str(d)],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:  # e.g. killed for memory: report it and go on with the table
        print(f"  {method} M={m} d={d} failed (exit {out.returncode}): {out.stderr[-200:]!r}")
        return {"seconds": float("nan"), "peak_mib": float("nan"), "nrc1": float("nan")}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--dims", default="256,512")
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        method, m, d = args.one[0], int(args.one[1]), int(args.one[2])
        runners = {
            "stream": lambda: run_streaming(m, d),
            "authors": lambda: run_authors(m, d),
            "gemm32": lambda: run_gemm(m, d, "float32"),
            "gemm64": lambda: run_gemm(m, d, "float64"),
        }
        print(json.dumps(runners[method]()))
        return
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} threads, batch {BATCH}, n = {N_TARGETS}")
    header = (
        "|       M |   d | (a) stream s | (a) MiB | (b) authors s | (b) MiB | (c) f32 GEMM s "
        "| (c) f64 GEMM s | (b)/(a) | (a)/(c f32) | (a)/(c f64) |"
    )
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for d in map(int, args.dims.split(",")):
        for m in map(int, args.sizes.split(",")):
            a = measure("stream", m, d)
            b = measure("authors", m, d)
            c32 = measure("gemm32", m, d)
            c64 = measure("gemm64", m, d)
            assert not abs(a["nrc1"] - b["nrc1"]) >= 1e-6, (a, b)  # NaN: (b) did not finish
            print(
                f"| {m:>7} | {d:>3} | {a['seconds']:>12.3f} | {a['peak_mib']:>7.0f} "
                f"| {b['seconds']:>13.3f} | {b['peak_mib']:>7.0f} | {c32['seconds']:>14.3f} "
                f"| {c64['seconds']:>14.3f} | {b['seconds'] / a['seconds']:>7.1f} "
                f"| {a['seconds'] / c32['seconds']:>11.2f} "
                f"| {a['seconds'] / c64['seconds']:>11.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
