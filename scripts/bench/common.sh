# Shared by scripts/bench-*: tools, the synthetic capture, the C floor, capplan as installed
# (scripts/build-release), and interleaved measurement. Source it after setting rounds and packets.
set -euo pipefail
source scripts/bench/busy.sh
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
  capplan=$(scripts/build-release)
  note_busy_machine
  results=$work/results.tsv
  : > "$results"
  echo "capture: $capture ($(stat -c %s "$capture") bytes, $packets packets asked); $rounds interleaved rounds" >&2
}

measure() {  # name, command...: wall time and peak RSS, appended to $results
  local name=$1; shift
  # Peak RSS from /usr/bin/time (a small parent: its %M is the command's); the wall time from
  # timed.py's nanosecond clock, as /usr/bin/time's %e has 10 ms steps.
  if python3 scripts/bench/timed.py "$work/time.out" /usr/bin/time -f "%M" -o "$work/rss.out" "$@"; then
    printf '%s\t%s %s\n' "$name" "$(cat "$work/time.out")" "$(cat "$work/rss.out")" >> "$results"
  else
    echo "$name failed:" >&2
    cat "$work/time.out.stderr" >&2
    exit 1
  fi
}

summarize() {  # reference tool name, then the order to print
  python3 scripts/bench/summarize.py "$results" "$@"
}
