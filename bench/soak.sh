#!/usr/bin/env bash
# Soak benchmark (not a CI test): Picket at a steady rate for a long time with a store cap small
# enough that retention runs many times. Disk use must stay flat (within ±10 % once the cap is
# reached), RSS flat, and nothing lost. Loopback only; bounded by DURATION.
#
# usage: bench/soak.sh            DURATION=1800 RATE=20000 MAX_BYTES=300MB SEGMENT=16384 by default
# The swing of disk use is about one hot segment (uncompressed, with its WAL) plus one
# compressed copy while it is compacted: keep SEGMENT small next to MAX_BYTES (16,384 events are
# about 15 MB here; 65,536 made the disk swing ±21 % around its mean under a 300 MB cap).
# Prints one sample every INTERVAL seconds (elapsed, store bytes, RSS, stored, dropped,
# retention runs) and a SUMMARY line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
shared=$(cd "$repo/../shared/bench" && pwd)
DURATION=${DURATION:-1800}
RATE=${RATE:-20000}
MAX_BYTES=${MAX_BYTES:-300MB}
SEGMENT=${SEGMENT:-16384}
INTERVAL=${INTERVAL:-10}
work=/tmp/picket-soak
rm -rf "$work"; mkdir -p "$work"
cd "$repo"
cargo build --release --quiet --bin picket --example loadgen
picket=$repo/target/release/picket
loadgen=$repo/target/release/examples/loadgen
python3 "$shared/mkmsgs.py" 20000 > "$work/msgs.txt"
cat > "$work/soak.toml" <<EOF
[store]
segment_max_events = $SEGMENT
[retention]
max_bytes = "$MAX_BYTES"
min_free = "1%"
interval = "5s"
EOF
PICKET_LOG=warn "$picket" serve --config "$work/soak.toml" --data-dir "$work/data" \
  --syslog-listen 127.0.0.1:15700 --web-listen 127.0.0.1:15701 --snmp-listen 127.0.0.1:15702 \
  >"$work/ready.txt" 2>"$work/picket.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$work/ready.txt" ] && break; sleep 0.1; done
metric() { curl -s "127.0.0.1:15701/metrics" | awk -v m="$1" '$1==m {s+=$2} END {print s+0}'; }
count=$((DURATION * RATE))
"$loadgen" --proto tcp-oc --target 127.0.0.1:15700 --file "$work/msgs.txt" --count "$count" \
  --rate "$RATE" >"$work/loadgen.txt" 2>&1 &
lg=$!
start=$(date +%s)
echo "elapsed_s store_bytes rss_mb stored dropped retention_runs"
: > "$work/series.txt"
while kill -0 "$lg" 2>/dev/null; do
  sleep "$INTERVAL"
  now=$(( $(date +%s) - start ))
  bytes=$(du -sb "$work/data/store" | cut -f1)
  rss=$(awk '/VmRSS/{printf "%.1f", $2/1024}' /proc/$pid/status)
  stored=$(metric picket_events_stored_total)
  dropped=$(curl -s 127.0.0.1:15701/metrics | awk '/^picket_frames_dropped_total/ {s+=$2} END {print s+0}')
  runs=$(metric picket_retention_runs_total)
  echo "$now $bytes $rss $stored $dropped $runs" | tee -a "$work/series.txt"
  [ "$now" -gt $((DURATION + 300)) ] && break
done
wait "$lg" || true
# Let the last lines land.
for _ in $(seq 60); do
  [ "$(metric picket_events_stored_total)" -ge "$count" ] && break
  sleep 1
done
stored=$(metric picket_events_stored_total)
dropped=$(curl -s 127.0.0.1:15701/metrics | awk '/^picket_frames_dropped_total/ {s+=$2} END {print s+0}')
hwm=$(awk '/VmHWM/{printf "%.1f", $2/1024}' /proc/$pid/status)
python3 - "$work/series.txt" "$count" "$stored" "$dropped" "$hwm" "$MAX_BYTES" <<'PY'
import sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
count, stored, dropped, hwm = int(sys.argv[2]), int(float(sys.argv[3])), int(float(sys.argv[4])), sys.argv[5]
runs_seen = [r for r in rows if r[5] >= 1]
flat = runs_seen[len(runs_seen) // 5:] if runs_seen else []
if flat:
    b = [r[1] for r in flat]
    mean = sum(b) / len(b)
    spread = max(abs(x - mean) / mean for x in b) * 100
    rss = [r[2] for r in flat]
    disk = f"disk mean {mean/1e6:.1f} MB, max deviation {spread:.1f}% over {len(flat)} samples after the cap"
    mem = f"RSS {min(rss):.1f}-{max(rss):.1f} MB after the cap, peak {hwm} MB"
else:
    disk, mem = "cap never reached (raise DURATION or lower MAX_BYTES)", f"peak RSS {hwm} MB"
runs = int(rows[-1][5]) if rows else 0
print(f"SUMMARY sent={count} stored={stored} lost={count - stored} dropped={dropped} retention_runs={runs}; {disk}; {mem}")
PY
