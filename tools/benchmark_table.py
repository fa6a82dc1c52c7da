#!/usr/bin/env python3
"""Turns gemm_benchmark's JSON output into the Markdown tables of docs/benchmarks.md.

    gemm_benchmark --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
        --benchmark_out=out.json --benchmark_out_format=json
    tools/benchmark_table.py out.json

For every shape and thread count: each ternary kernel's median time, weight GB/s and GOP/s,
its speed-up over libtorch's fastest fp32 path and over libtorch's int8 dynamic linear, and
the share of the read roofline it reaches (the stream_read of the same byte count, cold for
the cold-weight rows), all from medians measured in the same run.
"""
import collections
import json
import re
import sys


def main(path):
    with open(path) as f:
        runs = json.load(f)["benchmarks"]
    # name -> median real time (us) and counters, keyed by (kind, shape, threads)
    medians = {}
    for run in runs:
        if run.get("aggregate_name") not in (None, "median"):
            continue
        match = re.match(r"(.+)/(\d+x\d+x\d+)/threads:(\d+)", run["run_name"])
        if not match:
            continue
        kind, shape, threads = match.group(1), match.group(2), int(match.group(3))
        medians[(kind, shape, threads)] = run
    shapes = sorted({(s, t) for _, s, t in medians},
                    key=lambda st: (tuple(int(v) for v in st[0].split("x")), st[1]))
    print("| M x N x K | threads | kernel | time (us) | weight GB/s | GOP/s | "
          "vs best fp32 | vs torch int8 | roofline |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for shape, threads in shapes:
        def time(kind):
            run = medians.get((kind, shape, threads))
            return run["real_time"] if run else None

        fp32 = [t for t in (time("torch_fp32_matmul"), time("torch_fp32_linear"),
                            time("torch_fp32_mv")) if t]
        best_fp32 = min(fp32) if fp32 else None
        int8 = time("torch_int8_dynamic")
        rows = [(kind, run) for (kind, s, t), run in medians.items()
                if s == shape and t == threads and not kind.startswith("stream")]
        for kind, run in sorted(rows, key=lambda kr: kr[1]["real_time"]):
            t = run["real_time"]
            roof = time("stream_read_cold" if "/cold" in kind else "stream_read")
            ternary = not kind.startswith("torch")
            cells = [
                shape, str(threads), f"`{kind}`", f"{t:,.1f}",
                f"{run.get('weight_GB/s', 0):.1f}", f"{run.get('GOP/s', 0):.1f}",
                f"{best_fp32 / t:.2f}x" if best_fp32 else "",
                f"{int8 / t:.2f}x" if int8 else "",
                f"{roof / t:.0%}" if ternary and roof else "",
            ]
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
