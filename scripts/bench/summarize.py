#!/usr/bin/env python3
"""Medians and ratios of an interleaved benchmark run.
  summarize.py RESULTS REFERENCE NAME...   (RESULTS: lines of 'name<TAB>seconds kib')"""
import statistics
import sys


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
    print(f"{'tool':12} {'median s':>9} {'x floor':>8} {'x ' + reference:>12} {'peak RSS MiB':>13}")
    for name in names:
        if name not in median:
            print(f"{name:12} {'did not run':>9}")
            continue
        print(f"{name:12} {median[name]:9.3f} {median[name] / floor:8.2f} {median[name] / median[reference]:12.3f} "
              f"{max(rss[name]) / 1024:13.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
