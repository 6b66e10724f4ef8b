#!/usr/bin/env bash
# The README's three-machine example on one machine: three network
# namespaces created here ("machines" 10.77.0.10, .11, .12 on a bridge, with
# an optional netem delay on every link), a `fleetbench worker` in two of
# them and the coordinator (with the embedded broker) in the third. Every
# packet stays inside the namespaces this script creates; they are removed
# at the end. Needs root (ip netns; tc netem for DELAY).
#
#   bench/three-nodes.sh [duration] [devices]      # defaults: 30s 3000
#   DELAY=5ms bench/three-nodes.sh                 # one-way delay per link (needs the sch_netem module)
#
# Output: bench/out/three-nodes-<timestamp>/ (result.json, report.html,
# summary.txt, the workers' logs, /usr/bin/time of the coordinator).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-30s}
devices=${2:-3000}
delay=${DELAY:-}
out=bench/out/three-nodes-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
go build -o bench/out/fleetbench ./cmd/fleetbench
fb=$PWD/bench/out/fleetbench

br=fbbr0
names=(fb-coord fb-w1 fb-w2)
addrs=(10.77.0.10 10.77.0.11 10.77.0.12)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for n in "${names[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  ip link del "$br" 2>/dev/null || true
}
trap cleanup EXIT

ip link add "$br" type bridge
ip link set "$br" up
for i in 0 1 2; do
  n=${names[$i]}
  ip netns add "$n"
  ip link add "v$n" type veth peer name eth0 netns "$n"
  ip link set "v$n" master "$br" up
  ip -n "$n" addr add "${addrs[$i]}/24" dev eth0
  ip -n "$n" link set eth0 up
  ip -n "$n" link set lo up
  if [ -n "$delay" ] && ! tc -n "$n" qdisc add dev eth0 root netem delay "$delay"; then
    echo "netem is not available here (sch_netem): running without the $delay delay" >&2
    delay=""
  fi
done

head -c 32 /dev/urandom | base64 > "$out/token"
chmod 600 "$out/token"
for i in 1 2; do
  ip netns exec "${names[$i]}" "$fb" worker --listen "${addrs[$i]}:7946" --token-file "$out/token" \
    > "$out/worker$i.out" 2> "$out/worker$i.log" &
  pids+=($!)
done
sleep 1

echo "== $devices devices for $duration over 3 nodes, one-way delay per link: ${delay:-none}"
set +e
ip netns exec fb-coord /usr/bin/time -v -o "$out/time.txt" "$fb" run scenarios/examples/fan-in.yaml --quiet \
  --duration "$duration" --set "devices[devices].count=$devices" --set "devices[devices].connect.rate=1000/s" \
  --workers "${addrs[1]}:7946,${addrs[2]}:7946" --listen "${addrs[0]}:7950" --token-file "$out/token" \
  --out "$out" > "$out/summary.txt" 2> "$out/coordinator.log"
code=$?
set -e
echo "exit $code ($out)"
sed -n '/^Messages/,/^$/p;/^Latency/,/^$/p;/^Nodes/,/^$/p' "$out/summary.txt"
grep -E "Maximum resident|Elapsed|User time|System time" "$out/time.txt"
exit $code
