#!/usr/bin/env bash
# The short budgets of BENCHMARKS.md, each against mosquitto started here on
# a loopback port (and stopped at the end), each figure beside its budget.
#
#   bench/budgets.sh ramp      # connection ramp: 10,000 devices at up to 5,000/s (budget ≥ 2,000/s)
#   bench/budgets.sh cpu       # tool CPU per QoS 1 self round trip at 5,000 round trips/s (budget ≤ 40 µs)
#   bench/budgets.sh scale     # 50,000 devices over source addresses 127.0.0.1-127.0.0.8
#   bench/budgets.sh all
#
# The 30-minute soak is bench/soak.sh. Output: bench/out/<budget>-<timestamp>/
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
go build -o bench/out/fleetbench ./cmd/fleetbench
fb=bench/out/fleetbench

start_mosquitto() { # $1 = output dir
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\nset_tcp_nodelay true\n' "$port" > "$1/mosquitto.conf"
  mosquitto -c "$1/mosquitto.conf" > "$1/mosquitto.log" 2>&1 &
  MQ=$!
  sleep 0.5
  URL="mqtt://127.0.0.1:$port"
}

run_budget() { # $1 = name, $2 = budgetcheck mode, rest = fleetbench run arguments
  local name=$1 mode=$2; shift 2
  local out
  out=bench/out/$name-$(date +%Y%m%d-%H%M%S)
  mkdir -p "$out"
  start_mosquitto "$out"
  /usr/bin/time -v -o "$out/time.txt" $fb run "$@" --broker "$URL" --out "$out" --quiet > "$out/summary.txt" || true
  kill $MQ 2>/dev/null || true
  wait $MQ 2>/dev/null || true
  echo "== $name ($out)"
  go run ./bench/budgetcheck -mode "$mode" "$out/result.json" || true
  grep -E "Maximum resident|Elapsed" "$out/time.txt"
}

# 50,000 devices need 50k+ descriptors here and as many in mosquitto: raise the
# hard limit too when running as root (fleetbench raises only the soft one).
ulimit -Hn 200000 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"

case $what in ramp|all)
  run_budget ramp ramp scenarios/examples/soak-10k.yaml --duration 12s --set drain=2s \
    --set 'stages=[{duration: 2s, target: 10000}, {duration: 10s, target: 10000}]' \
    --set devices[0].connect.rate=5000/s --set devices[0].publish[0].interval=60s ;;
esac
case $what in cpu|all)
  run_budget cpu cpu scenarios/examples/soak-10k.yaml --duration 60s --set drain=3s \
    --set devices[0].count=5000 --set 'stages=[{duration: 3s, target: 5000}, {duration: 57s, target: 5000}]' \
    --set devices[0].connect.rate=5000/s --set devices[0].publish[0].interval=1s --set devices[0].publish[0].payload.size=64 ;;
esac
case $what in scale|all)
  run_budget scale scale scenarios/examples/soak-10k.yaml --duration 60s --set drain=5s \
    --set devices[0].count=50000 --set 'stages=[{duration: 25s, target: 50000}, {duration: 35s, target: 50000}]' \
    --set devices[0].connect.rate=2000/s --set devices[0].publish[0].interval=30s \
    --set 'broker.source_addresses=[127.0.0.1-127.0.0.8]' ;;
esac
