#!/usr/bin/env python3
"""Medians and ratios of an interleaved benchmark run.
  summarize.py RESULTS REFERENCE NAME...   (RESULTS: lines of 'name<TAB>seconds kib')

Besides the ratios of medians, each tool's ratios to the floor and to the reference are taken
round by round (its n-th run against their n-th, measured next to it) and the middle half of
them is printed ("rounds x ..."): on a shared machine the floor itself moves by half between
rounds, and the spread says how far one run's figure can be trusted."""
import statistics
import sys


def middle_half(values):
    if len(values) < 2:
        return values[0], values[0]
    quartiles = statistics.quantiles(values, n=4, method="inclusive")
    return quartiles[0], quartiles[2]


def main(argv):
    results, reference, names = argv[1], argv[2], argv[3:]
    times, rss = {}, {}
    for line in open(results):
        if not line.strip():
            continue
        name, measured = line.rstrip("\n").split("\t")
        seconds, kib = measured.split()
        times.setdefault(name, []).append(float(seconds))
        rss.setdefault(name, []).append(int(kib))
    median = {name: statistics.median(values) for name, values in times.items()}
    floor = median["floor"]
    print(f"{'tool':16} {'median s':>9} {'x floor':>8} {'x ' + reference:>12} {'peak RSS MiB':>13}"
          f" {'rounds x floor':>15} {'rounds x ' + reference:>18}")
    for name in names:
        if name not in median:
            print(f"{name:16} {'did not run':>9}")
            continue
        spread = [middle_half([run / other for run, other in zip(times[name], times[to])]) for to in ("floor", reference)]
        low, high = spread[0]
        low_reference, high_reference = spread[1]
        print(f"{name:16} {median[name]:9.3f} {median[name] / floor:8.2f} {median[name] / median[reference]:12.3f} "
              f"{max(rss[name]) / 1024:13.1f} {f'{low:.2f}-{high:.2f}':>15} {f'{low_reference:.2f}-{high_reference:.2f}':>18}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
