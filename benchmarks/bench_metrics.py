"""Benchmark of the metrics engine: time and peak memory of

(a) the streaming engine (CollapseStats over batches of 8,192 rows, then compute),
(b) an authors'-style in-memory path: full SVD of the centred M×d features, dense projection
    matrices for NRC1/NRC2 and a 1000-point γ grid for NRC3 (docs/benchmarks.md),
(c) the floor: one H.T @ H GEMM on the same data (float32 as stored, and float64),
(d) the authors' final MuJoCo evaluation, written from its description: float32 features
    gathered batch by batch with torch.cat, PCA by a thin SVD of the centred features (sklearn's
    full solver), NRC1 and NRC1n (normalised features) for k = 1..15 by projection, NRC2 by
    Gram–Schmidt on the rows of W, NRC3 on a 1,000-point γ grid,
(e) with CUDA: the streaming engine on the GPU (batches moved there as a loader would).

Every measurement gets the same threads (`--threads`, default 1: torch, OpenMP and BLAS).

Each measurement runs in a fresh subprocess so that peak RSS is its own. The streaming engine
reads the data batch by batch from a seeded generator, as it would from a DataLoader; the time
spent generating batches is measured and subtracted. Usage:

    .venv/bin/python benchmarks/bench_metrics.py [--sizes 1000,20000,100000] [--dims 256]
        [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
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


def run_streaming(m: int, d: int, device: str = "cpu") -> dict:
    from nrc.metrics import CollapseStats

    w = torch.randn(N_TARGETS, d, generator=torch.Generator().manual_seed(1))
    base = rss_mib()
    stats, gen_time, start = CollapseStats(), 0.0, time.perf_counter()
    source = batches(m, d)
    while True:
        t0 = time.perf_counter()
        item = next(source, None)
        if item is not None:
            item = tuple(t.to(device) for t in item)
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


def run_authors_final(m: int, d: int) -> dict:
    """(d) the authors' final evaluation (float32 throughout, as their code)."""
    w = torch.randn(N_TARGETS, d, generator=torch.Generator().manual_seed(1)).numpy()
    base = rss_mib()
    start = time.perf_counter()
    feats, targets = [], []
    for h, y in batches(m, d):
        feats.append(h)
        targets.append(y)
    h = torch.cat(feats).numpy()
    y = torch.cat(targets).numpy()
    centred = h - h.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    h_norm = h / np.linalg.norm(h, axis=1, keepdims=True)
    nrc1 = {}
    for k in range(1, 16):
        proj = vt[:k].T @ vt[:k]
        nrc1[k] = float(np.mean(np.sum((h - h @ proj) ** 2, axis=1)))
        nrc1[f"n{k}"] = float(np.mean(np.sum((h_norm - h_norm @ proj) ** 2, axis=1)))
    basis = []
    for row in w:
        for q in basis:
            row = row - (row @ q) * q
        basis.append(row / np.linalg.norm(row))
    u = np.stack(basis)
    _nrc2 = float(np.mean(np.sum((h_norm - h_norm @ u.T @ u) ** 2, axis=1)))
    sigma = np.cov(y.T, bias=True)
    vals, vecs = np.linalg.eigh(sigma)
    root = vecs @ np.diag(np.sqrt(vals)) @ vecs.T
    a = w @ w.T / np.linalg.norm(w @ w.T)
    eye = np.eye(N_TARGETS)
    _nrc3 = min(
        float(
            np.sum((a - (root - np.sqrt(g) * eye) / np.linalg.norm(root - np.sqrt(g) * eye)) ** 2)
        )
        for g in np.linspace(0, vals[0], 1000)
    )
    return {
        "seconds": time.perf_counter() - start,
        "peak_mib": rss_mib() - base,
        "nrc1": nrc1[f"n{N_TARGETS}"],
    }


def run_gemm(m: int, d: int, dtype: str) -> dict:
    h, _ = full_data(m, d)
    h = h.to(getattr(torch, dtype))
    base = rss_mib()
    h.T @ h
    start = time.perf_counter()
    h.T @ h
    return {"seconds": time.perf_counter() - start, "peak_mib": rss_mib() - base}


def measure(method: str, m: int, d: int, threads: int) -> dict:
    """Run one measurement in a fresh interpreter with `threads` threads; its JSON result."""
    env = os.environ | {
        name: str(threads)
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    }
    out = subprocess.run(
        [sys.executable, __file__, "--one", method, str(m), str(d), "--threads", str(threads)],
        capture_output=True,
        text=True,
        env=env,
    )
    if out.returncode != 0:  # e.g. killed for memory: report it and go on with the table
        print(f"  {method} M={m} d={d} failed (exit {out.returncode}): {out.stderr[-200:]!r}")
        return {"seconds": float("nan"), "peak_mib": float("nan"), "nrc1": float("nan")}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,20000,100000")
    parser.add_argument("--dims", default="256")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.one:
        method, m, d = args.one[0], int(args.one[1]), int(args.one[2])
        runners = {
            "stream": lambda: run_streaming(m, d),
            "stream_cuda": lambda: run_streaming(m, d, "cuda"),
            "final": lambda: run_authors_final(m, d),
            "authors": lambda: run_authors(m, d),
            "gemm32": lambda: run_gemm(m, d, "float32"),
            "gemm64": lambda: run_gemm(m, d, "float64"),
        }
        print(json.dumps(runners[method]()))
        return
    threads = args.threads
    cuda = torch.cuda.is_available()
    print(f"torch {torch.__version__}, {threads} threads, batch {BATCH}, n = {N_TARGETS}")
    header = (
        "|       M |   d | (a) stream s | (a) MiB | (b) authors s | (b) MiB | (c) f32 GEMM s "
        "| (c) f64 GEMM s | (d) final s | (b)/(a) | (d)/(a) | (a)/(c f32) | (a)/(c f64) |"
        + (" (e) GPU s |" if cuda else "")
    )
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for d in map(int, args.dims.split(",")):
        for m in map(int, args.sizes.split(",")):
            a = measure("stream", m, d, threads)
            b = measure("authors", m, d, threads)
            c32 = measure("gemm32", m, d, threads)
            c64 = measure("gemm64", m, d, threads)
            final = measure("final", m, d, threads)
            assert not abs(a["nrc1"] - b["nrc1"]) >= 1e-6, (a, b)  # NaN: (b) did not finish
            assert not abs(a["nrc1"] - final["nrc1"]) >= 1e-4, (a, final)  # float32 there
            gpu = f" {measure('stream_cuda', m, d, threads)['seconds']:>9.3f} |" if cuda else ""
            print(
                f"| {m:>7} | {d:>3} | {a['seconds']:>12.3f} | {a['peak_mib']:>7.0f} "
                f"| {b['seconds']:>13.3f} | {b['peak_mib']:>7.0f} | {c32['seconds']:>14.3f} "
                f"| {c64['seconds']:>14.3f} | {final['seconds']:>11.3f} "
                f"| {b['seconds'] / a['seconds']:>7.1f} "
                f"| {final['seconds'] / a['seconds']:>7.1f} "
                f"| {a['seconds'] / c32['seconds']:>11.2f} "
                f"| {a['seconds'] / c64['seconds']:>11.2f} |" + gpu,
                flush=True,
            )


if __name__ == "__main__":
    main()
