#!/usr/bin/env bash
# Memory benchmark (not a CI test): N lines (1,000,000) over TCP with octet counting into a fresh
# Picket store, unpaced (or at RATE/s), then IDLE seconds (60) without traffic. Prints the peak
# RSS (VmHWM, indexing included), the RSS after the idle time with its anonymous part, the RSS
# sampled every second, and the events the rules skipped. Loopback only; bounded by N and IDLE.
#
# usage: bench/memory.sh            N=1000000 IDLE=60 [RATE=100000] [PICKET_CONFIG=file]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
shared=$(cd "$repo/../shared/bench" && pwd)
N=${N:-1000000}
IDLE=${IDLE:-60}
work=/tmp/picket-memory
rm -rf "$work"; mkdir -p "$work"
cd "$repo"
cargo build --release --quiet --bin picket --example loadgen
python3 "$shared/mkmsgs.py" 1000 > "$work/msgs.txt"
PICKET_LOG=warn "$repo/target/release/picket" serve ${PICKET_CONFIG:+--config "$PICKET_CONFIG"} \
  --data-dir "$work/data" --syslog-listen 127.0.0.1:15800 --web-listen 127.0.0.1:15801 \
  --snmp-listen 127.0.0.1:15802 >"$work/ready.txt" 2>"$work/picket.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$work/ready.txt" ] && break; sleep 0.1; done
( while kill -0 "$pid" 2>/dev/null; do
    awk '/VmRSS/{printf "%d ", $2/1024}' "/proc/$pid/status" 2>/dev/null || true; sleep 1
  done ) > "$work/series.txt" &
"$repo/target/release/examples/loadgen" --proto tcp-oc --target 127.0.0.1:15800 \
  --file "$work/msgs.txt" --count "$N" ${RATE:+--rate "$RATE"} --metrics 127.0.0.1:15801 --pid "$pid" | tail -1
sleep "$IDLE"
[ -n "${SMAPS:-}" ] && cp "/proc/$pid/smaps" "$SMAPS"
peak=$(awk '/VmHWM/{printf "%.1f", $2/1024}' "/proc/$pid/status")
idle=$(awk '/VmRSS/{printf "%.1f", $2/1024}' "/proc/$pid/status")
anon=$(awk '/RssAnon/{printf "%.1f", $2/1024}' "/proc/$pid/status")
skipped=$(curl -s 127.0.0.1:15801/metrics | awk '$1=="picket_rules_dropped_total" {print $2}')
kill -TERM "$pid"; wait "$pid" || true
trap - EXIT
echo "RSS MB each second: $(cat "$work/series.txt")"
echo "SUMMARY memory: lines=$N peak_rss_mb=$peak rss_after_${IDLE}s_idle_mb=$idle anonymous_mb=$anon rules_skipped=$skipped"
