"""CPU-vs-GPU table of the firm Monte Carlo benchmarks, and a throughput-vs-firms plot.

    python -m benchmarks.compare [--plot benchmarks/results/throughput_vs_firms.png]

Reads every ``benchmarks/results/*.json`` written by ``python -m benchmarks.simulate``, and the
``*_quick.json`` files of ``python -m benchmarks.quick`` (a second table, CPU against GPU). A device
whose file is missing (no GPU run yet) is reported as missing, not invented.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

ROWS = [
    ("(a) solve, costs given [firms/s]", ("solve_cost", "firms_per_s")),
    ("(a) solve, costs given [GB/s read]", ("solve_cost", "bytes_per_s")),
    ("(a) solve with paths [firms/s]", ("solve_cost", "full_firms_per_s")),
    ("(b) simulate, MC only [firms/s]", ("simulate_mc_only", "firms_per_s")),
    ("(b) simulate, with paths [firms/s]", ("simulate_paths", "firms_per_s")),
    ("(c) value_and_grad [firms/s]", ("value_and_grad", "vg_firms_per_s")),
    ("(c) forward of the same [firms/s]", ("value_and_grad", "forward_firms_per_s")),
    ("NumPy vectorised [firms/s]", ("numpy", "firms_per_s")),
    ("pure Python [firms/s]", ("python", "firms_per_s")),
    ("naive vmap(lax.scan) [firms/s]", ("naive_vmap_scan", "firms_per_s")),
    ("compile, simulate [s]", ("simulate_mc_only", "compile_s")),
    ("compile, value_and_grad [s]", ("value_and_grad", "vg_compile_s")),
]


def load():
    out = {}
    for p in sorted(RESULTS.glob("*.json")):
        try:
            d = json.loads(p.read_text())
        except json.JSONDecodeError:
            continue
        if "meta" in d and "headline_N10_M2" in d:  # the files of `python -m benchmarks.simulate`
            out[p.stem] = d
    return out


QUICK_ROWS = [
    ("chain solve, costs given [firms/s]", ("chain_solve", "firms_per_s"), False),
    ("chain solve, costs given [GB/s read]", ("chain_solve", "bytes_per_s"), True),
    ("one-pass read (roofline) [GB/s]", ("one_pass_read", "bytes_per_s"), True),
    ("elementwise copy, read + written [GB/s]", ("one_pass_read", "copy_bytes_per_s"), True),
    ("chain solve with paths [firms/s]", ("chain_solve", "full_firms_per_s"), False),
    ("simulate, MC only [firms/s]", ("simulate_mc_only", "firms_per_s"), False),
    ("simulate, with paths [firms/s]", ("simulate_paths", "firms_per_s"), False),
    ("value_and_grad [firms/s]", ("value_and_grad", "vg_firms_per_s"), False),
    ("forward of the same [firms/s]", ("value_and_grad", "forward_firms_per_s"), False),
    ("Melitz vmapped [us / equilibrium]", ("melitz_vmapped", "vmapped_per_equilibrium_us"), False),
    ("compile, chain solve [s]", ("chain_solve", "compile_s"), False),
    ("compile, simulate [s]", ("simulate_mc_only", "compile_s"), False),
    ("compile, value_and_grad [s]", ("value_and_grad", "vg_compile_s"), False),
    ("compile + first run, Melitz [s]", ("melitz_vmapped", "compile_plus_first_run_s"), False),
]


def load_quick():
    """``{name: result}`` of the ``python -m benchmarks.quick`` files (``*_quick.json``)."""
    out = {}
    for p in sorted(RESULTS.glob("*_quick.json")):
        try:
            d = json.loads(p.read_text())
        except json.JSONDecodeError:
            continue
        if d.get("meta", {}).get("benchmark") == "quick":
            out[p.stem] = d
    return out


def quick_table(results) -> str:
    """CPU against GPU from the quick files; a missing device is a column of "missing"."""
    cpu = next((n for n in results if results[n]["meta"]["platform"] == "cpu"), None)
    gpus = [n for n in results if results[n]["meta"]["platform"] != "cpu"]
    cols = [cpu or "cpu (missing)"] + (gpus or ["gpu (missing)"]) + [f"{g} / cpu" for g in (gpus or ["gpu"])]
    lines = ["| quick: N = 10, M = 2, float32 | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for label, (sec, key), gb in QUICK_ROWS:
        c = _get(results[cpu], ("results", sec, key)) if cpu else None
        cells = ["missing" if not cpu else _fmt(c, gb=gb)]
        gv = [_get(results[g], ("results", sec, key)) for g in gpus]
        cells += [_fmt(v, gb=gb) for v in gv] if gpus else ["missing"]
        for v in (gv or [None]):
            if v is None or not c or "compile" in label:
                cells.append("—")
            else:
                ratio = (c / v) if "us /" in label else (v / c)  # time per item: CPU time over GPU time
                cells.append(f"{ratio:.1f}x")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for n in [x for x in (cpu, *gpus) if x]:
        m = results[n]["meta"]
        lines.append(f"{n}: {m['device']} ({m['platform']}), jax {m['jax']}, sizes {m['sizes']}, total {m.get('total_s', float('nan')):.0f} s, "
                     f"load average at start {', '.join(f'{x:.1f}' for x in m.get('load_average_at_start', []))}")
    if not cpu:
        lines.append("CPU: missing (run `python -m benchmarks.quick` on a CPU host)")
    if not gpus:
        lines.append("GPU: missing (run `python -m benchmarks.quick` on a GPU host and commit benchmarks/results/gpu-*_quick.json)")
    return "\n".join(lines)


def _get(d, path):
    for k in path:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _fmt(v, gb=False):
    if v is None:
        return "—"
    if gb:
        return f"{v / 1e9:.1f}"
    if v >= 1e6:
        return f"{v / 1e6:.2f} M"
    if v >= 1e3:
        return f"{v / 1e3:.1f} k"
    return f"{v:.3g}"


def table(results) -> str:
    names = list(results)
    cpu = next((n for n in names if results[n]["meta"]["platform"] == "cpu"), None)
    gpus = [n for n in names if results[n]["meta"]["platform"] != "cpu"]
    cols = names + ([f"{g}/{cpu}" for g in gpus] if cpu else [])
    lines = ["| N = 10, M = 2, float32 | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for label, (sec, key) in ROWS:
        vals = [_get(results[n], ("headline_N10_M2", sec, key)) for n in names]
        cells = [_fmt(v, gb="GB/s" in label) for v in vals]
        if cpu:
            c = _get(results[cpu], ("headline_N10_M2", sec, key))
            for g in gpus:
                v = _get(results[g], ("headline_N10_M2", sec, key))
                cells.append("—" if (v is None or not c or "compile" in label) else f"{v / c:.1f}x")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for n in names:
        big = results[n].get("big_streamed")
        if big:
            lines.append(f"\n{n}: {big['firms']:.0e} firms streamed in {big['seconds']:.1f} s "
                         f"({big['firms_per_s'] / 1e6:.2f} M firms/s), peak RSS {big['peak_rss_mb']:.0f} MB")
        m = results[n]["meta"]
        lines.append(f"{n}: {m['device']} ({m['platform']}), jax {m['jax']}, load average at start "
                     f"{', '.join(f'{x:.1f}' for x in m.get('load_average_at_start', []))}")
    if not gpus:
        lines.append("\nNo GPU result in benchmarks/results/ (no GPU was available when these were run): "
                     "run `python -m benchmarks.simulate` on a GPU host to add the column.")
    return "\n".join(lines)


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, d in results.items():
        pts = _get(d, ("sweeps", "firms")) or []
        for kind, style in (("solve", "-o"), ("simulate", "--s")):
            xs = [p[kind]["firms"] for p in pts if p.get(kind)]
            ys = [p[kind]["firms_per_s"] for p in pts if p.get(kind)]
            if xs:
                ax.loglog(xs, ys, style, label=f"{name}: {kind}")
    ax.set_xlabel("firms")
    ax.set_ylabel("firms per second")
    ax.set_title("jaxtrade Monte Carlo, N = 10, M = 2")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--plot", default=str(RESULTS / "throughput_vs_firms.png"))
    args = ap.parse_args(argv)
    results = load()
    quick = load_quick()
    if not results and not quick:
        print("no results in benchmarks/results/: run `python -m benchmarks.simulate` or `python -m benchmarks.quick` first")
        return 1
    if results:
        print(table(results))
        plot(results, args.plot)
        print(f"\nwrote {args.plot}")
    else:
        print("no `python -m benchmarks.simulate` results in benchmarks/results/")
    print()
    print(quick_table(quick) if quick else "no `python -m benchmarks.quick` results (CPU: missing, GPU: missing)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
