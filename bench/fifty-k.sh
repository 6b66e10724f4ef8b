#!/usr/bin/env bash
# Issue 18's budget: 50,000 devices on this machine against three mosquitto
# processes on loopback (each under the 20,000 open-files limit: ulimit -n
# 19000 in its own subshell), with
#   fleetbench run <scenario> --broker url1,url2,url3 --local-workers 3
# QoS 1, one message every 20 s per device to its own topic, which it is
# subscribed to. Prints devices connected, connect failures, lost, and the
# peak RSS of all fleetbench processes per device.
#
#   bench/fifty-k.sh                          # 50,000 devices, 2 minutes
#   DEVICES=6000 DURATION=60s bench/fifty-k.sh
#   CLIENTS="native paho" bench/fifty-k.sh    # one pass per client (default: native only,
#                                             # the default client; see README "MQTT clients")
#   RATE=2000/s                               # connect rate of the fleet
#   DEVICES=100000 BROKERS=6 INTERVAL=60s SOURCES=127.0.0.1-127.0.0.4 bench/fifty-k.sh
#                                             # 100,000: six brokers, six local workers,
#                                             # a source-address pool, a message a minute
#
# Peak RSS is sampled: every second the script sums VmRSS (/proc/PID/status)
# over the fleetbench processes of the run, the coordinator and the local
# workers under it (found through /proc/PID/task/*/children), and
# keeps the largest sum; it also reports the sum of each process's own peak
# (VmHWM, read at the last sample), an upper bound of the same figure.
#
# Bounded: the run lasts DURATION plus ramp and drain, and is killed after
# DURATION + 300 s whatever happens. It stops only the processes it started
# (by PID). Output: bench/out/fifty-k-<timestamp>/ (scenario, mosquitto
# configs and logs, result.json and report.html per pass, rss.tsv, summary.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
devices=${DEVICES:-50000}
duration=${DURATION:-2m}
rate=${RATE:-2000/s}
clients=${CLIENTS:-native}
brokers_n=${BROKERS:-3}
workers=${WORKERS:-$brokers_n}
interval=${INTERVAL:-20s}
sources=${SOURCES:-}
out=bench/out/fifty-k-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
go build -o "$out/fleetbench" ./cmd/fleetbench
fb=$PWD/$out/fleetbench

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
urls=()
for i in $(seq "$brokers_n"); do
  port=$(freeport)
  cat > "$out/mosquitto$i.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
max_connections -1
persistence false
max_queued_messages 1000
set_tcp_nodelay true
CONF
  # Its own open-files limit, below the machine's 20,000 hard limit.
  ( ulimit -n 19000; exec mosquitto -c "$out/mosquitto$i.conf" ) > "$out/mosquitto$i.log" 2>&1 &
  pids+=($!)
  urls+=("mqtt://127.0.0.1:$port")
done
for u in "${urls[@]}"; do # wait until each listens (bounded)
  port=${u##*:}
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.1
  done
done
brokers=$(IFS=,; echo "${urls[*]}")

source_block=""
if [ -n "$sources" ]; then
  source_block=$'  source_addresses: ['"$sources"$']'
fi
cat > "$out/fifty-k.yaml" <<YAML
name: fifty-k
duration: $duration
drain: 5s
hold: true
broker:
  url: [${urls[0]}]   # replaced by --broker
$source_block
devices:
  - name: d
    count: $devices
    auth: none
    client_id: fk-\${index}
    clean_session: true
    keepalive: 60s
    connect:
      rate: $rate
      timeout: 30s
    subscribe:
      - topic: fk/\${index}
        qos: 1
    publish:
      - topic: fk/\${index}
        qos: 1
        interval: $interval
        payload:
          size: 64
YAML

# rss_sum PID: the VmRSS sum (kB) of PID and every process below it.
tree() { echo "$1"; for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do tree "$c"; done; }
field() { awk -v k="$2:" '$1 == k { print $2 }' /proc/"$1"/status 2>/dev/null || true; }

summary=$out/summary.txt
: > "$summary"
for client in $clients; do
  pass=$out/$client
  mkdir -p "$pass"
  secs=$(python3 -c "import re,sys; d='$duration'; m={'s':1,'m':60,'h':3600}; print(sum(int(n)*m[u] for n,u in re.findall(r'(\d+)([smh])', d)))")
  timeout --signal=INT --kill-after=30 $((secs + 300)) \
    "$fb" run "$out/fifty-k.yaml" --broker "$brokers" --local-workers "$workers" --client "$client" --quiet --out "$pass" \
    > "$pass/stdout.txt" 2> "$pass/stderr.txt" &
  run=$!
  pids+=($run)
  peak=0 hwm=0 procs=0
  echo -e "t_s\tprocesses\trss_kb" > "$pass/rss.tsv"
  t=0
  while kill -0 "$run" 2>/dev/null; do
    sum=0 h=0 n=0
    for p in $(tree "$run"); do
      [ "$(cat /proc/"$p"/comm 2>/dev/null)" = fleetbench ] || continue # not timeout(1)
      r=$(field "$p" VmRSS); w=$(field "$p" VmHWM)
      [ -n "$r" ] || continue
      sum=$((sum + r)); h=$((h + ${w:-0})); n=$((n + 1))
    done
    echo -e "$t\t$n\t$sum" >> "$pass/rss.tsv"
    [ "$sum" -gt "$peak" ] && peak=$sum
    [ "$h" -gt "$hwm" ] && hwm=$h procs=$n
    sleep 1
    t=$((t + 1))
  done
  code=0
  wait "$run" || code=$?
  python3 - "$pass/result.json" "$client" "$devices" "$peak" "$hwm" "$procs" "$code" >> "$summary" <<'PY'
import json, sys
path, client, devices, peak, hwm, procs, code = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7]
try:
    r = json.load(open(path))
except OSError as e:
    print(f"client {client}: no result ({e}); exit code {code}")
    sys.exit(0)
t = r["totals"]
print(f"client {client}: exit code {code}, verdict {r['verdict'].get('status', '?')}")
print(f"  devices {t['devices']} of {devices}; connected peak {t['connected_peak']}; connect_failed {t['connect_failed']}; disconnects {t['disconnects']}")
print(f"  published {t['published']} acked {t['acked']} expected {t['expected']} received {t['received']} lost {t['lost']}")
for e in r.get("endpoints", []):
    print(f"  endpoint {e['url']}: devices {e['devices']} connect_ok {e['connect_ok']} connect_failed {e['connect_failed']} "
          f"published {e['published']} received {e['received']} ack p99 {e['publish_ack'].get('p99_us', 0)/1000:.1f} ms")
# Per device started (a ramp that fell behind started fewer than planned).
started = max(1, t['devices'])
if t['devices'] < devices:
    print(f"  WARNING: only {t['devices']} of {devices} devices started (verdict: {r['verdict'].get('status', '?')})")
per = peak * 1024 / started
print(f"  peak RSS of all fleetbench processes (sampled sum of VmRSS, 1 s): {peak/1024:.0f} MiB = {per/1024:.1f} KiB per device started")
print(f"  sum of the processes' own peaks (VmHWM, {procs} processes): {hwm/1024:.0f} MiB = {hwm*1024/started/1024:.1f} KiB per device started")
PY
done
cat "$summary"
echo "output: $out"
