#!/usr/bin/env bash
# Measures the agent's scrape cost with 0, 20 and 100 running containers: CPU time per scrape
# (utime + stime of the agent from /proc/PID/stat), wall time per scrape (curl's time_total and
# the agent's own collector duration), and the CPU cost per container. Side by side, the same
# figures for `docker stats --no-stream`, Docker's own way to read the same counters.
# Needs root, dockerd (started here if nothing answers) and Debian's busybox-static.
# Every osprey-bench-* container is removed on exit, on Ctrl-C and on SIGTERM, and every docker
# call is bounded by a timeout, so a stuck dockerd ends the bench with a message instead of
# hanging it.
# Usage: tests/bench/containers-scrape.sh [SCRAPES]    (default 400 scrapes per round, 5 rounds)
# OSPREY_AGENT=/path/to/osprey-agent measures that binary instead of building this tree's.
set -euo pipefail
cd "$(dirname "$0")/../.."
scrapes=${1:-400}
image=osprey-test-busybox
prefix=osprey-bench
port=19799
hz=$(getconf CLK_TCK)
agent=

# docker ARGS, killed after 60 s: a hung dockerd fails the bench with the command it hung on.
docker() {
  local status=0
  timeout --kill-after=5 60 docker "$@" || status=$?
  if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    echo "docker $* did not answer within 60 s; is dockerd hung?" >&2
  fi
  return "$status"
}

remove_bench_containers() {
  docker ps -aq --filter "name=^$prefix-" | xargs -r timeout --kill-after=5 120 docker rm -f >/dev/null || true
}

cleanup() {
  trap - EXIT INT TERM
  if [ -n "$agent" ]; then kill "$agent" 2>/dev/null || true; fi
  remove_bench_containers
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

docker version >/dev/null 2>&1 || {
  echo "starting dockerd (log in /tmp/osprey-bench-dockerd.log)"
  dockerd >/tmp/osprey-bench-dockerd.log 2>&1 &
  for _ in $(seq 120); do docker version >/dev/null 2>&1 && break; sleep 0.5; done
}
# Containers left by an earlier run that was killed with SIGKILL would be counted as ours.
remove_bench_containers
if ! docker image inspect "$image" >/dev/null 2>&1; then
  rootfs=$(mktemp -d)
  mkdir -p "$rootfs"/{bin,tmp,www,etc,proc,sys,dev}
  cp /bin/busybox "$rootfs/bin/"
  for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"; done
  tar -C "$rootfs" -c . | docker import --change 'CMD ["/bin/sh"]' - "$image" >/dev/null
  rm -rf "$rootfs"
fi

agent_binary=${OSPREY_AGENT:-}
if [ -z "$agent_binary" ]; then
  cargo build --profile dist -q -p osprey-agent
  agent_binary=./target/dist/osprey-agent
fi
"$agent_binary" --listen "127.0.0.1:$port" 2>/tmp/osprey-bench-agent.log &
agent=$!
url="http://127.0.0.1:$port/metrics"
for _ in $(seq 100); do curl -sf -o /dev/null "$url" && break; sleep 0.1; done

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
engine_ticks() {
  local total=0 pid
  for pid in $(pgrep -x dockerd) $(pgrep -x containerd); do total=$((total + $(cpu_ticks "$pid"))); done
  echo "$total"
}

scale_to() {
  local want=$1 have
  have=$(docker ps -q --filter "name=^$prefix-" | wc -l)
  for i in $(seq $((have + 1)) "$want"); do
    docker run -d --name "$prefix-$i" "$image" sleep 3600 >/dev/null
  done
  # Wait until the agent reports every one of them (discovery follows Docker's events).
  for _ in $(seq 200); do
    seen=$(curl -sf "$url" | grep -c "^container_cpu_usage_seconds_total{.*name=\"$prefix-" || true)
    [ "$seen" -ge "$want" ] && return
    sleep 0.1
  done
  echo "agent shows $seen of $want containers" >&2
  exit 1
}

printf '%-11s %-9s %-15s %-15s %-17s %-15s %-16s %s\n' containers scrapes "cpu/scrape us" "wall/scrape us" "collector us" "body bytes" "docker stats s" "dockerd cpu s"
declare -A cpu_us
for n in 0 20 100; do
  scale_to "$n"
  for _ in $(seq 20); do curl -sf -o /dev/null "$url"; done   # warm-up: open every container's files
  requests=()
  for _ in $(seq "$scrapes"); do requests+=(-o /dev/null "$url"); done
  # Five rounds of SCRAPES scrapes, each by one curl process reusing its connection; the CPU
  # figure is the median of the rounds, the wall figure the median of every scrape.
  round_cpu=() walls=$(mktemp)
  for _ in 1 2 3 4 5; do
    before=$(cpu_ticks "$agent")
    curl -sf -w '%{time_total}\n' "${requests[@]}" >>"$walls"
    after=$(cpu_ticks "$agent")
    round_cpu+=("$(awk -v t=$((after - before)) -v hz="$hz" -v n="$scrapes" 'BEGIN { print t / hz / n * 1e6 }')")
  done
  wall=$(median <"$walls")
  rm -f "$walls"
  cpu_us[$n]=$(printf '%s\n' "${round_cpu[@]}" | median | xargs printf '%.0f')
  body=$(curl -sf "$url")
  collector=$(for _ in $(seq 21); do
    curl -sf "$url" | awk '/^osprey_agent_collector_duration_seconds\{collector="containers"\}/ { print $2 * 1e6 }'
  done | median)
  stats_runs=()
  engine_before=$(engine_ticks)
  for _ in 1 2 3; do
    start=$(date +%s.%N)
    docker stats --no-stream --format '{{.CPUPerc}}' >/dev/null
    stats_runs+=("$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')")
  done
  engine_cpu=$(awk -v t=$(($(engine_ticks) - engine_before)) -v hz="$hz" 'BEGIN { printf "%.2f", t / hz / 3 }')
  stats_median=$(printf '%s\n' "${stats_runs[@]}" | median)
  printf '%-11s %-9s %-15s %-15s %-17s %-15s %-16s %s\n' "$n" "$((scrapes * 5))" "${cpu_us[$n]}" \
    "$(awk -v w="$wall" 'BEGIN { printf "%.0f", w * 1e6 }')" "$(printf '%.0f' "$collector")" "${#body}" "$stats_median" "$engine_cpu"
done
per_container=$(awk -v a="${cpu_us[100]}" -v b="${cpu_us[0]}" 'BEGIN { printf "%.1f", (a - b) / 100 }')
echo "agent CPU per container per scrape: $per_container us ((cpu/scrape at 100 - at 0) / 100)"
echo "cpu/scrape: agent utime+stime (/proc/PID/stat), median of 5 rounds; wall/scrape: median curl time_total; collector us: median of the agent's own containers-collector duration over 21 scrapes"
echo "docker stats: median of 3 runs of 'docker stats --no-stream' (wall s), dockerd+containerd CPU s per run"
