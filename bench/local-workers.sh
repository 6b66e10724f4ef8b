#!/usr/bin/env bash
# What local worker processes cost the coordinator: for N = 1, 2, 4, 6
# local workers, the time from the command's start until every worker
# listens, the time to the first partial result (written at the first
# tick after a connect), and the peak RSS of the
# coordinator (which runs no device) and of each worker. The fleet is small
# and constant (DEVICES, default 600, QoS 1 every 2 s to its own topic)
# against one mosquitto on a loopback port this script starts, so what
# grows with N is the coordinator's cost per worker.
#
#   bench/local-workers.sh                 # N = 1 2 4 6
#   NS="2 4" DEVICES=1200 bench/local-workers.sh
#
# Output: bench/out/local-workers-<timestamp>/ (each run's result.json and
# stderr, samples.txt) and a table on stdout. Stops only what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
ns=${NS:-1 2 4 6}
devices=${DEVICES:-600}
out=bench/out/local-workers-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
go build -o "$out/fleetbench" ./cmd/fleetbench
fb=$PWD/$out/fleetbench

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_connections -1\n' "$port" > "$out/mosquitto.conf"
mosquitto -c "$out/mosquitto.conf" > "$out/mosquitto.log" 2>&1 &
mosq=$!
trap 'kill $mosq 2>/dev/null || true; wait $mosq 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.05
done

cat > "$out/scenario.yaml" <<EOF
name: local-workers-cost
duration: 10s
drain: 2s
devices:
  - name: d
    count: $devices
    client_id: lwc-\${index}
    connect:
      rate: 1000/s
    subscribe:
      - topic: lwc/\${clientId}
        qos: 1
    publish:
      - topic: lwc/\${clientId}
        qos: 1
        interval: 2s
EOF

# rss_kb PID: the process's peak resident set (VmHWM), in KiB.
rss_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

printf '%-3s %14s %14s %16s %16s %6s\n' N "workers ready" "first partial" "coordinator RSS" "RSS per worker" "lost"
for n in $ns; do
  run=$out/n$n
  mkdir -p "$run"
  start=$(date +%s.%N)
  "$fb" run "$out/scenario.yaml" --broker "mqtt://127.0.0.1:$port" --local-workers "$n" \
    --out "$run/out" --partial-every 200ms --log-level info 2> "$run/stderr" > "$run/stdout" &
  coord=$!
  ready="" first="" coord_kb=0 worker_kb=()
  while kill -0 "$coord" 2>/dev/null; do
    now=$(date +%s.%N)
    if [ -z "$ready" ] && grep -q "local workers listening" "$run/stderr"; then
      ready=$(echo "$now - $start" | bc)
    fi
    if [ -z "$first" ] && [ -f "$run/out/result.partial.json" ]; then
      first=$(echo "$now - $start" | bc)
    fi
    c=$(rss_kb "$coord"); [ "${c:-0}" -gt "$coord_kb" ] && coord_kb=$c
    i=0
    for w in $(pgrep -P "$coord" || true); do
      k=$(rss_kb "$w"); [ "${k:-0}" -gt "${worker_kb[$i]:-0}" ] && worker_kb[$i]=$k
      i=$((i + 1))
    done
    sleep 0.05
  done
  wait "$coord" || true
  total=0; for k in "${worker_kb[@]}"; do total=$((total + k)); done
  per=$(( ${#worker_kb[@]} > 0 ? total / ${#worker_kb[@]} : 0 ))
  lost=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["totals"]["lost"])' "$run/out/result.json" 2>/dev/null || echo "?")
  printf '%-3s %13.2fs %13.2fs %13d KB %13d KB %6s\n' "$n" "${ready:-0}" "${first:-0}" "$coord_kb" "$per" "$lost"
  echo "$n ready=$ready first=$first coordinator_kb=$coord_kb workers_kb=${worker_kb[*]}" >> "$out/samples.txt"
done
echo "output: $out"
