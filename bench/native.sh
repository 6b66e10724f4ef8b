#!/usr/bin/env bash
# The native device session budgets of BENCHMARKS.md ("Native session
# budgets"), each against mosquitto started here on a loopback port (one
# instance per run, stopped after it), traffic to 127.0.0.1 only. Every run
# is repeated REPEAT times; the summary gives the median, the spread and the
# load average at the start of each run.
#
#   bench/native.sh [memory|idle|rtt|ramp|all]       # default all (~20 min with REPEAT=3)
#
#   memory  10,000 devices, QoS 1, own subscription, 1 msg / 10 s: RSS per device
#           (plateau at 10,000 − plateau at 1,000) / 9,000, budget ≤ 16 KB; goroutines
#           per device at 10,000, budget ≤ 1.2
#   idle    5,000 devices subscribed, not publishing: tool CPU over 60 s after the ramp
#           (/proc/PID/stat utime+stime), budget ≤ 1 ms/s per 1,000 devices
#   rtt     100 devices × 10,000 QoS 1 self round trips of 128 B: tool CPU (user+sys,
#           /usr/bin/time) per round trip, budget ≤ 20 µs; then the same work with
#           mqtt-stresser against the same mosquitto, as a ratio
#   ramp    10,000 devices asked to connect at 20,000/s: connect + SUBACK rate from
#           10 % to 90 % of the fleet, timestamped at the broker by a QoS 0 observer
#           (each device publishes one QoS 0 message after its SUBACK), budget ≥ 5,000/s
#
# Environment:
#   CLIENT=native|paho      the MQTT client (the group field `client`, or --client).
#                           A build without either runs its default client and the
#                           results are labelled "current default client".
#   REPEAT=3                runs per figure
#   MQTT_STRESSER=PATH      the mqtt-stresser binary for the rtt side-by-side
#                           (built outside this repository); skipped when unset/missing
#   REV=COMMIT              build fleetbench from that commit (git archive into the
#                           output directory) instead of the working tree
#   FLEETBENCH=PATH         use this fleetbench binary instead of building one
#
# Output: bench/out/native-<timestamp>/ (per run: result.json, time.txt,
# mosquitto.log; figures.tsv; summary.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
case $what in memory|idle|rtt|ramp|all) ;; *) echo "usage: bench/native.sh [memory|idle|rtt|ramp|all]" >&2; exit 2 ;; esac
CLIENT=${CLIENT:-}
REPEAT=${REPEAT:-3}
MQTT_STRESSER=${MQTT_STRESSER:-}
case $CLIENT in ""|native|paho) ;; *) echo "CLIENT must be native or paho" >&2; exit 2 ;; esac

out=bench/out/native-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out/scenarios"
fb=$out/fleetbench
check=$out/nativecheck
if [ -n "${FLEETBENCH:-}" ]; then
  cp "$FLEETBENCH" "$fb"
  built_from="binary $FLEETBENCH"
elif [ -n "${REV:-}" ]; then
  rev=$(git rev-parse --verify "$REV^{commit}")
  mkdir -p "$out/src"
  git archive "$rev" | tar -x -C "$out/src"
  (cd "$out/src" && go build -o ../fleetbench ./cmd/fleetbench)
  built_from="commit ${rev:0:7}"
else
  go build -o "$fb" ./cmd/fleetbench
  built_from="working tree at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!bench/out' || echo ' (with uncommitted changes)')"
fi
go build -o "$check" ./bench/nativecheck
figures=$out/figures.tsv
: > "$figures"

# 10,000 devices need ~10.5k descriptors in fleetbench and ~10k in mosquitto.
ulimit -Hn 20000 2>/dev/null || true
if ! ulimit -n 20000 2>/dev/null; then
  echo "cannot raise the open-files limit to 20000 (hard limit $(ulimit -Hn)); the 10,000-device runs need it" >&2
  exit 1
fi

load1() { cut -d' ' -f1 /proc/loadavg; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; } # utime+stime of PID, clock ticks
hz=$(getconf CLK_TCK)

# ---------------------------------------------------------------- scenarios
# payload sizes are whole MQTT payloads (fleetbench's stamp included)
cat > "$out/scenarios/memory.yaml" <<'EOF'
name: native-memory
description: 1,000 devices (plateau), then 10,000 (plateau); QoS 1, own subscription, 1 msg / 10 s.
seed: 42
duration: 65s
drain: 5s
stages:
  - { duration: 5s, target: 1000 }
  - { duration: 20s, target: 1000 }
  - { duration: 5s, target: 10000 }
  - { duration: 35s, target: 10000 }
devices:
  - name: telemetry
    count: 10000
    product_key: a1NativeMem
    device_name: meter-${index:05}
    keepalive: 60s
    connect: { rate: 2000/s, timeout: 10s }
    subscribe:
      - topic: /${productKey}/${deviceName}/user/get
        qos: 1
    publish:
      - topic: /${productKey}/${deviceName}/user/get
        qos: 1
        interval: 10s
        payload: { size: 256 }
EOF
cat > "$out/scenarios/idle.yaml" <<'EOF'
name: native-idle
description: 5,000 devices, subscribed, not publishing, held connected.
seed: 42
duration: 80s
drain: 1s
hold: true
stages:
  - { duration: 2s, target: 5000 }
  - { duration: 78s, target: 5000 }
devices:
  - name: idle
    count: 5000
    product_key: a1NativeIdl
    device_name: idle-${index:05}
    keepalive: 60s
    connect: { rate: 2500/s, timeout: 10s }
    subscribe:
      - topic: /${productKey}/${deviceName}/user/get
        qos: 1
EOF
cat > "$out/scenarios/rtt.yaml" <<'EOF'
name: native-rtt
description: 100 devices × 10,000 QoS 1 self round trips of 128 B (publish, PUBACK, delivery, PUBACK).
seed: 42
duration: 170s
drain: 5s
devices:
  - name: rtt
    count: 100
    product_key: a1NativeRtt
    device_name: rtt-${index:03}
    keepalive: 60s
    connect: { rate: 1000/s, timeout: 10s }
    subscribe:
      - topic: /${productKey}/${deviceName}/user/get
        qos: 1
    publish:
      - topic: /${productKey}/${deviceName}/user/get
        qos: 1
        rate: 100/s
        count: 10000
        payload: { size: 128 }
EOF
# Each device publishes one QoS 0 message (to a topic nobody of the fleet
# subscribes to) right after its SUBACK: the script's observer, subscribed to
# /a1NativeRmp/+/user/update, timestamps the fleet's connect + subscribe.
cat > "$out/scenarios/ramp.yaml" <<'EOF'
name: native-ramp
description: 10,000 devices asked to connect and subscribe at 20,000/s, one QoS 0 message each after the SUBACK.
seed: 42
duration: 12s
drain: 2s
stages:
  - { duration: 1s, target: 10000 }
  - { duration: 11s, target: 10000 }
devices:
  - name: ramp
    count: 10000
    product_key: a1NativeRmp
    device_name: dev-${index:05}
    keepalive: 60s
    connect: { rate: 20000/s, timeout: 10s }
    subscribe:
      - topic: /${productKey}/${deviceName}/user/get
        qos: 1
    publish:
      - topic: /${productKey}/${deviceName}/user/update
        qos: 0
        interval: 10s
        count: 1
        payload: { size: 64 }
EOF

# ------------------------------------------------------------------- client
# Which client ran: the group field `client` (or --client) selects it, but a
# build may accept the field before it has a native session. The binary is
# checked for engine/iot's native session (symbols engine/iot.*native*); a
# native run of a build without it would be paho under the wrong label, so it
# is refused (NATIVE_CHECK=0 skips the check).
has_native=no
if go tool nm "$fb" 2>/dev/null | grep -qiE 'fleetbench/engine/iot\.[^ ]*native'; then has_native=yes; fi
client_args=()
client_label="current default client ($([ $has_native = yes ] && echo "this build has a native session" || echo "paho: this build has no native session"))"
if [ -n "$CLIENT" ]; then
  if [ "$CLIENT" = native ] && [ $has_native = no ] && [ "${NATIVE_CHECK:-1}" != 0 ]; then
    echo "CLIENT=native: this fleetbench binary has no native session (no engine/iot.*native* symbol); it would run paho. Build it from a tree with the native session (or NATIVE_CHECK=0)." >&2
    exit 2
  fi
  if msg=$("$fb" validate "$out/scenarios/rtt.yaml" --set "devices[0].client=$CLIENT" 2>&1); then
    client_args=(--set "devices[0].client=$CLIENT")
    client_label="$CLIENT (devices[0].client=$CLIENT)"
  elif grep -qiE 'no field "client"|unknown field' <<<"$msg"; then
    if "$fb" run --help 2>&1 | grep -q -- '--client'; then
      client_args=(--client "$CLIENT")
      client_label="$CLIENT (--client $CLIENT)"
    else
      client_label="current default client (this build has no client field or --client flag; CLIENT=$CLIENT not applied)"
      echo "note: $msg" >&2
    fi
  else
    echo "$msg" >&2
    exit 2
  fi
fi
{
  echo "client: $client_label"
  echo "fleetbench built from: $built_from"
  echo "fleetbench: $("$fb" version 2>&1 | head -1)"
  echo "mosquitto: $(mosquitto -h 2>&1 | head -1)"
  echo "machine: $(nproc) CPUs, $(uname -sr), open files $(ulimit -n)"
  echo "started: $(date -Is), uptime: $(uptime)"
} | tee "$out/meta.txt"

# ---------------------------------------------------------------- mosquitto
MQ=
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
start_mq() { # $1 = run dir; sets MQ, PORT
  PORT=$(free_port)
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\nset_tcp_nodelay true\n' "$PORT" > "$1/mosquitto.conf"
  mosquitto -c "$1/mosquitto.conf" > "$1/mosquitto.log" 2>&1 &
  MQ=$!
  for _ in $(seq 50); do # ≤ 5 s
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "mosquitto did not start on 127.0.0.1:$PORT (see $1/mosquitto.log)" >&2
  exit 1
}
stop_mq() {
  if [ -n "$MQ" ]; then kill "$MQ" 2>/dev/null || true; wait "$MQ" 2>/dev/null || true; MQ=; fi
}
trap stop_mq EXIT

record() { # $1 = measure, $2 = run, $3 = load; reads "name value unit" lines
  while IFS=$'\t' read -r name value unit; do
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$name" "$value" "$unit" >> "$figures"
  done
}
time_cpu() { # user+sys seconds from /usr/bin/time -v output
  awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.3f", u+s}' "$1"
}
wall_s() { # $1 = /usr/bin/time -v output, $2 = figure name: elapsed wall time in s
  awk -F': ' -v name="$2" '/Elapsed/ {n = split($2, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; printf "%s\t%.1f\ts\n", name, s}' "$1"
}
time_rss_kb() { awk -F': ' '/Maximum resident/ {print $2}' "$1"; }

fb_run() { # $1 = run dir, $2 = time bound (s), rest = fleetbench run args
  local dir=$1 bound=$2; shift 2
  /usr/bin/time -v -o "$dir/time.txt" timeout -s INT "$bound" \
    "$fb" run "$@" --broker "mqtt://127.0.0.1:$PORT" --out "$dir" --quiet "${client_args[@]}" \
    > "$dir/summary.txt" 2>&1 || echo "fleetbench exited $? (see $dir/summary.txt)" >&2
}

# ----------------------------------------------------------------- measures
measure_memory() {
  for i in $(seq "$REPEAT"); do
    local dir=$out/memory-$i l; mkdir -p "$dir"; l=$(load1)
    start_mq "$dir"
    fb_run "$dir" 120 "$out/scenarios/memory.yaml"
    stop_mq
    "$check" memory -low 1000 "$dir/result.json" | record memory "$i" "$l" || true
    printf 'max_rss_per_device_time\t%s\tKB\n' "$(awk -v k="$(time_rss_kb "$dir/time.txt")" 'BEGIN {printf "%.4g", k/10000}')" | record memory "$i" "$l"
    echo "memory run $i done (load $l)"
  done
}

measure_idle() {
  local from=15 to=75
  for i in $(seq "$REPEAT"); do
    local dir=$out/idle-$i l pid wd c0 c1 m0 m1; mkdir -p "$dir"; l=$(load1)
    start_mq "$dir"
    "$fb" run "$out/scenarios/idle.yaml" --broker "mqtt://127.0.0.1:$PORT" --out "$dir" --quiet "${client_args[@]}" > "$dir/summary.txt" 2>&1 &
    pid=$!
    ( sleep 150; kill -INT "$pid" 2>/dev/null ) & wd=$!
    sleep "$from"; c0=$(cpu_ticks "$pid"); m0=$(cpu_ticks "$MQ")
    sleep $((to - from)); c1=$(cpu_ticks "$pid"); m1=$(cpu_ticks "$MQ")
    wait "$pid" || echo "fleetbench exited $? (see $dir/summary.txt)" >&2
    kill "$wd" 2>/dev/null || true; wait "$wd" 2>/dev/null || true
    stop_mq
    awk -v a="$c0" -v b="$c1" -v hz="$hz" -v s=$((to - from)) 'BEGIN {printf "idle_cpu_per_1000_proc\t%.4g\tms/s\n", (b-a)/hz*1000/s/5}' | record idle "$i" "$l"
    awk -v a="$m0" -v b="$m1" -v hz="$hz" -v s=$((to - from)) 'BEGIN {printf "mosquitto_idle_cpu_per_1000\t%.4g\tms/s\n", (b-a)/hz*1000/s/5}' | record idle "$i" "$l"
    "$check" idle -from "$from" -to "$to" "$dir/result.json" | record idle "$i" "$l" || true
    echo "idle run $i done (load $l)"
  done
}

measure_rtt() {
  local stresser=yes
  if [ -z "$MQTT_STRESSER" ] || [ ! -x "$MQTT_STRESSER" ]; then
    stresser=
    echo "mqtt-stresser side-by-side SKIPPED: set MQTT_STRESSER to the mqtt-stresser binary (built outside this repository)" | tee -a "$out/meta.txt"
  fi
  local payload; payload=$(head -c 128 /dev/zero | tr '\0' x)
  for i in $(seq "$REPEAT"); do
    local dir=$out/rtt-$i l m0 m1 n cpu; mkdir -p "$dir"; l=$(load1)
    start_mq "$dir"
    m0=$(cpu_ticks "$MQ")
    fb_run "$dir" 200 "$out/scenarios/rtt.yaml"
    m1=$(cpu_ticks "$MQ")
    "$check" rtt "$dir/result.json" > "$dir/figures.txt" || true
    record rtt "$i" "$l" < "$dir/figures.txt"
    n=$(awk -F'\t' '$1 == "received" {print $2}' "$dir/figures.txt")
    cpu=$(time_cpu "$dir/time.txt")
    {
      awk -v c="$cpu" -v n="${n:-0}" 'BEGIN {if (n > 0) printf "rtt_cpu_time_whole_run\t%.4g\tµs\n", c/n*1e6}'
      wall_s "$dir/time.txt" fleetbench_wall
    } | record rtt "$i" "$l"
    awk -v a="$m0" -v b="$m1" -v hz="$hz" -v n="${n:-0}" 'BEGIN {if (n > 0) printf "mosquitto_cpu_per_rtt\t%.4g\tµs\n", (b-a)/hz/n*1e6}' | record rtt "$i" "$l"
    if [ -n "$stresser" ]; then
      # Same mosquitto instance. mqtt-stresser: per client a publisher and a
      # subscriber connection on one topic; the publisher sends its messages at
      # QoS 1 one after another (waiting for each PUBACK), the subscriber
      # (QoS 1) gets them (and PUBACKs them): the same four packets per message.
      local l2 s0 s1 rcv scpu; l2=$(load1)
      s0=$(cpu_ticks "$MQ")
      /usr/bin/time -v -o "$dir/stresser-time.txt" timeout -s INT 200 "$MQTT_STRESSER" \
        -broker "tcp://127.0.0.1:$PORT" -num-clients 100 -num-messages 10000 \
        -publisher-qos 1 -subscriber-qos 1 -constant-payload "$payload" \
        -rampup-size 100 -rampup-delay 0s -timeout 10s -global-timeout 180s -no-progress \
        > "$dir/stresser.txt" 2>&1 || echo "mqtt-stresser exited $? (see $dir/stresser.txt)" >&2
      s1=$(cpu_ticks "$MQ")
      rcv=$(awk '/^Received Messages:/ {print $3}' "$dir/stresser.txt")
      scpu=$(time_cpu "$dir/stresser-time.txt")
      {
        awk -v c="$scpu" -v n="${rcv:-0}" 'BEGIN {if (n > 0) printf "stresser_cpu_per_rtt\t%.4g\tµs\n", c/n*1e6}'
        printf 'stresser_received\t%s\tmessages\n' "${rcv:-0}"
        awk -v a="$s0" -v b="$s1" -v hz="$hz" -v n="${rcv:-0}" 'BEGIN {if (n > 0) printf "mosquitto_cpu_per_rtt_stresser\t%.4g\tµs\n", (b-a)/hz/n*1e6}'
        wall_s "$dir/stresser-time.txt" stresser_wall
        awk -v f="$cpu" -v nf="${n:-0}" -v s="$scpu" -v ns="${rcv:-0}" \
          'BEGIN {if (nf > 0 && ns > 0 && s > 0) printf "ratio_fleetbench_to_stresser\t%.4g\tx\n", (f/nf)/(s/ns)}'
      } | record rtt "$i" "$l2"
    fi
    stop_mq
    echo "rtt run $i done (load $l)"
  done
}

measure_ramp() {
  for i in $(seq "$REPEAT"); do
    local dir=$out/ramp-$i l op; mkdir -p "$dir"; l=$(load1)
    start_mq "$dir"
    "$check" observe -addr "127.0.0.1:$PORT" -topic '/a1NativeRmp/+/user/update' -want 10000 -max 60s \
      -ready "$dir/observer.ready" -out "$dir/arrivals.txt" 2> "$dir/observer.log" & op=$!
    for _ in $(seq 50); do [ -e "$dir/observer.ready" ] && break; sleep 0.1; done # ≤ 5 s
    fb_run "$dir" 60 "$out/scenarios/ramp.yaml"
    wait "$op" || echo "observer failed (see $dir/observer.log)" >&2
    stop_mq
    "$check" ramp -want 10000 "$dir/arrivals.txt" | record ramp "$i" "$l" || true
    awk '/^ *connects/ {gsub(",", "", $4); print "connect_failed\t" $4 "\tdevices"}' "$dir/summary.txt" | record ramp "$i" "$l"
    echo "ramp run $i done (load $l)"
  done
}

case $what in memory|all) measure_memory ;; esac
case $what in idle|all) measure_idle ;; esac
case $what in rtt|all) measure_rtt ;; esac
case $what in ramp|all) measure_ramp ;; esac

{
  echo
  echo "== native session budgets — client: $client_label (REPEAT=$REPEAT; $out)"
  "$check" summary "$figures"
  echo "ended: $(date -Is), uptime: $(uptime)"
} | tee "$out/summary.txt"
