#!/usr/bin/env bash
# The 10k-device soak of BENCHMARKS.md: 10,000 devices × 1 message / 10 s at
# QoS 1 against mosquitto (started here on a loopback port, stopped at the
# end) for 30 minutes, then each figure beside its budget.
#
#   bench/soak.sh [DURATION]      # default 30m; e.g. bench/soak.sh 5m for a quick look
#
# Output: bench/out/soak-<timestamp>/ (result.json, report.html, time.txt, summary.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-30m}
out=bench/out/soak-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$out/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 100000
set_tcp_nodelay true
CONF
ulimit -n "$(ulimit -Hn)"
mosquitto -c "$out/mosquitto.conf" > "$out/mosquitto.log" 2>&1 &
mq=$!
trap 'kill $mq 2>/dev/null || true' EXIT
sleep 0.5

go build -o "$out/fleetbench" ./cmd/fleetbench
/usr/bin/time -v -o "$out/time.txt" "$out/fleetbench" run scenarios/examples/soak-10k.yaml \
  --broker "mqtt://127.0.0.1:$port" --duration "$duration" --out "$out" | tee "$out/summary.txt"

echo
echo "== budgets ($duration soak, mosquitto $(mosquitto -h | head -1 | awk '{print $3}'), $(nproc) CPUs)"
go run ./bench/budgetcheck -mode soak -warmup 2m "$out/result.json" || true
grep -E "Maximum resident|Elapsed|User time|System time" "$out/time.txt"
