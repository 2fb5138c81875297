# Shared by scripts/bench-apply and scripts/bench-apply-builds: the local lab with iperf3 through a
# pod's veth, a plan capturing that veth, and one round of a capplan build beside tcpdump.
# Source it after setting work and seconds; it brings the lab up and down (on exit).
for tool in iperf3 tcpdump; do
  command -v "$tool" >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null; }
done
[ -x /usr/bin/time ] || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
mkdir -p "$work"
source scripts/bench/busy.sh
note_busy_machine
scripts/lab/local-lab up >/dev/null
trap 'scripts/lab/local-lab down >/dev/null' EXIT

veth=$(ip netns exec cpl-node ip -o link | awk -F': ' -v idx="$(ip netns exec cpl-app cat /sys/class/net/eth0/iflink)" '$1 == idx {split($2, a, "@"); print a[1]}')
cat > "$work/plan.yaml" <<PLAN
apiVersion: capplan/v1
kind: CapturePlan
metadata: {name: bench-apply}
target: {local: {netns: cpl-node}}
interfaces: [$veth]
capture: {filter: tcp port 5201, duration: $((seconds + 3))s, snaplen: 128}
redact: {payload: drop}
output:
  dir: $work/runs/{name}/{time}
PLAN

# One round: iperf3 for $seconds while tcpdump -w and the capplan build ($1) capture the veth.
# Leaves tcpdump.err, tcpdump.time and capplan.time (user and system CPU) and the run in $work/runs.
apply_round() {
  rm -rf "$work/runs"
  ip netns exec cpl-ext iperf3 -s -1 -B 203.0.113.12 >/dev/null 2>&1 &
  local server=$!
  /usr/bin/time -f "%U %S" -o "$work/tcpdump.time" ip netns exec cpl-node tcpdump -i "$veth" -s 128 -w "$work/tcpdump.pcap" \
    'tcp port 5201' 2>"$work/tcpdump.err" &
  local dump=$!
  /usr/bin/time -f "%U %S" -o "$work/capplan.time" "$1" apply "$work/plan.yaml" --quiet &
  local apply=$!
  sleep 1.5
  ip netns exec cpl-app iperf3 -c 203.0.113.12 -t "$seconds" >/dev/null
  sleep 0.5
  pkill -INT -f "tcpdump -i $veth" || true
  wait "$dump" 2>/dev/null || true
  wait "$apply" || true
  wait "$server" 2>/dev/null || true
}
