# Shared by scripts/bench-*: tools, the synthetic capture, the C floor, capplan in release
# mode, and interleaved measurement. Source it after setting rounds and packets.
set -euo pipefail
work=${TMPDIR:-/tmp}/capplan-bench
mkdir -p "$work"

bench_setup() {  # extra apt packages...
  local need=()
  for tool in tshark gcc "$@"; do command -v "$tool" >/dev/null || need+=("$tool"); done
  [ -x /usr/bin/time ] || need+=(time)
  if [ ${#need[@]} -gt 0 ]; then
    local packages=()
    for tool in "${need[@]}"; do
      case $tool in tcprewrite) packages+=(tcpreplay) ;; editcap) packages+=(tshark) ;; *) packages+=("$tool") ;; esac
    done
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  fi
  scripts/install-deps
  capture=$work/bench-$packets.pcap
  [ -f "$capture" ] || python3 scripts/bench/make-capture.py "$capture" "$packets"
  gcc -O2 -o "$work/pcap-floor" scripts/bench/pcap-floor.c -lpcap
  swift build -c release --product capplan >/dev/null
  capplan=$(swift build -c release --show-bin-path)/capplan
  results=$work/results.tsv
  : > "$results"
  echo "capture: $capture ($(stat -c %s "$capture") bytes, $packets packets asked); $rounds interleaved rounds" >&2
}

measure() {  # name, command...: wall time and peak RSS, appended to $results
  local name=$1; shift
  if /usr/bin/time -f "%e %M" -o "$work/time.out" "$@" >/dev/null 2>"$work/stderr.out"; then
    printf '%s\t%s\n' "$name" "$(cat "$work/time.out")" >> "$results"
  else
    echo "$name failed:" >&2
    cat "$work/stderr.out" >&2
    exit 1
  fi
}

summarize() {  # reference tool name, then the order to print
  python3 scripts/bench/summarize.py "$results" "$@"
}
