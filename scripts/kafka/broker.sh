#!/usr/bin/env bash
# broker.sh - a real single-node Apache Kafka broker (KRaft, broker+controller in
# one JVM) on 127.0.0.1, from Maven Central jars, for weir's tests and benchmarks.
#
# usage:
#   broker.sh start [--port N [--controller-port M]]
#       fetch jars if needed, start the broker, wait until it serves requests,
#       print "127.0.0.1:PORT" on stdout (nothing else goes to stdout).
#       a fresh start picks free ports unless --port is given, writes
#       server.properties and formats an empty data dir. if the run dir still
#       holds a broker stopped with `kill`, start reuses its config, ports and
#       data instead. if the broker is already running it just prints bootstrap.
#   broker.sh stop        SIGTERM (SIGKILL after 30 s) and delete config + data.
#   broker.sh kill [--hard]
#                         stop the process but keep config + data, so the next
#                         `start` comes back on the same ports with the same
#                         topics and records. --hard uses SIGKILL (crash).
#   broker.sh restart [--hard]
#                         kill + start: same ports, same data. prints bootstrap.
#   broker.sh status      print bootstrap and exit 0 if running, else exit 1.
#   broker.sh topic NAME PARTITIONS [extra TopicCommand args...]
#                         create a topic (replication factor 1, if not exists).
#   broker.sh tool CLASS [args...]
#                         run a Kafka CLI class with the broker's classpath,
#                         e.g. org.apache.kafka.tools.ConsoleProducer.
#   broker.sh fetch       only make sure the jars are in the cache; print lib dir.
#
# environment:
#   WEIR_KAFKA_RUN    run dir (default <repo>/target/kafka); one broker per run
#                     dir, so several brokers can coexist with different dirs.
#   WEIR_KAFKA_CACHE  jar cache (default /var/cache/weir-kafka); keyed by a hash
#                     of pom.xml, so editing the pom fetches a new set.
#   WEIR_KAFKA_HEAP   JVM heap flags (default "-Xms256m -Xmx768m").
#   WEIR_KAFKA_START_TIMEOUT  seconds to wait for readiness (default 90).
#
# run dir layout: server.properties, data/ (log.dirs), broker.log (log4j),
# broker.out (JVM stdout/stderr), broker.pid, bootstrap, tools.log.
#
# needs java 17+ and mvn (only on a cold cache); no kcat, no python.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(cd "$script_dir/../.." && pwd)
pom="$script_dir/pom.xml"
log_config="$script_dir/log4j2.properties"

cache_root=${WEIR_KAFKA_CACHE:-/var/cache/weir-kafka}
run_dir=${WEIR_KAFKA_RUN:-$repo_dir/target/kafka}
heap=${WEIR_KAFKA_HEAP:--Xms256m -Xmx768m}
start_timeout=${WEIR_KAFKA_START_TIMEOUT:-90}

# <repo>/target is a symlink into /var/cache that may dangle on a fresh machine;
# `mkdir -p` through a dangling symlink fails, so resolve it first.
run_dir=$(readlink -m "$run_dir")

props="$run_dir/server.properties"
data_dir="$run_dir/data"
pid_file="$run_dir/broker.pid"
bootstrap_file="$run_dir/bootstrap"
log_file="$run_dir/broker.log"
out_file="$run_dir/broker.out"

say() { echo "broker.sh: $*" >&2; }
die() { say "$*"; exit 1; }

# the end of the broker's logs, for failures
die_with_log() {
    say "$*; log tail:"
    tail -n 40 "$log_file" "$out_file" >&2 2>/dev/null || true
    exit 1
}

# --- jars -------------------------------------------------------------------

# the cache key is the pom's hash: same pom -> same jars, reused across runs.
lib_dir() {
    local key
    key=$(sha256sum "$pom" | cut -c1-16)
    echo "$cache_root/$key/lib"
}

fetch_jars() {
    local lib key_dir tmp
    lib=$(lib_dir)
    key_dir=$(dirname "$lib")
    [[ -f "$key_dir/complete" ]] && return 0
    mkdir -p "$key_dir"
    # two brokers starting at once on a cold cache must not both write lib/
    exec 9>"$key_dir/lock"
    flock 9
    if [[ ! -f "$key_dir/complete" ]]; then
        command -v mvn >/dev/null || die "mvn not found (needed once to fetch kafka jars)"
        say "fetching kafka jars into $lib"
        tmp="$key_dir/lib.tmp"
        rm -rf "$tmp" "$lib"
        # -q keeps mvn silent on success; its output goes to stderr so that
        # stdout stays reserved for the bootstrap address
        mvn -B -q -ntp -Dstyle.color=never -f "$pom" package -Dkafka.lib.dir="$tmp" >&2 \
            || die "mvn failed to fetch kafka jars"
        mv "$tmp" "$lib"
        touch "$key_dir/complete"
    fi
    exec 9>&-
}

java_cp() { echo "$(lib_dir)/*"; }

# --- process ------------------------------------------------------------------

# the pid in broker.pid, if that process is still our broker (guards against a
# stale pid file whose pid was reused by something else)
running_pid() {
    local pid
    [[ -f "$pid_file" ]] || return 1
    pid=$(<"$pid_file")
    [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "kafka.Kafka $props" || return 1
    echo "$pid"
}

# signal the broker and wait for it; returns once it is gone
stop_process() {
    local signal=$1 pid i
    pid=$(running_pid) || { rm -f "$pid_file"; return 0; }
    say "stopping broker pid $pid (SIG$signal)"
    kill "-$signal" "$pid" 2>/dev/null || true
    # a clean shutdown takes a few seconds (controlled shutdown, log flush)
    for ((i = 0; i < 300; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "broker pid $pid still alive after 30 s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    rm -f "$pid_file"
}

# --- config -------------------------------------------------------------------

# ports in use (any state) from /proc, so no dependency on ss/netstat
used_ports() {
    local f
    for f in /proc/net/tcp /proc/net/tcp6; do
        [[ -r "$f" ]] || continue
        # column 2 is local "ADDR:PORT" in hex; plain bash (mawk has no strtonum)
        while read -r _ local _; do
            if [[ "$local" == *:* ]]; then echo $((16#${local##*:})); fi
        done < <(tail -n +2 "$f")
    done
}

# a free port below the kernel's ephemeral range (32768+), so an outgoing
# connection cannot take it between our pick and the broker's bind
free_port() {
    local used port i exclude=${1:-}
    used=" $(used_ports | sort -un | tr '\n' ' ') $exclude "
    for ((i = 0; i < 200; i++)); do
        port=$((20000 + RANDOM % 12000))
        [[ "$used" == *" $port "* ]] || { echo "$port"; return 0; }
    done
    die "no free port found"
}

# a random cluster id in Kafka's Uuid format (16 bytes, base64url, no padding);
# saves a JVM start over `StorageTool random-uuid`. Kafka rejects ids that
# start with '-'.
cluster_id() {
    local id
    while :; do
        id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
        [[ "$id" != -* ]] && { echo "$id"; return; }
    done
}

write_config() {
    local port=$1 cport=$2
    cat >"$props" <<EOF
# written by scripts/kafka/broker.sh; one KRaft node, broker and controller
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data_dir

# one node: every internal topic at replication factor 1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1

# keep every record: retention goes by record timestamps, and weir writes an
# event's own time, so generated events dated months back would otherwise be
# deleted at the next retention check (every 5 min) in the middle of a run
log.retention.ms=-1
log.retention.bytes=-1

# tests create their topics explicitly (broker.sh topic)
auto.create.topics.enable=false
num.partitions=1

# consumer groups form at once instead of waiting 3 s for more members
group.initial.rebalance.delay.ms=0

# after a SIGKILL the controller refuses the broker's re-registration until the
# old registration's session times out (default 9 s); shorter makes a hard
# restart take ~5 s less, while staying well above scheduling hiccups
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=5000

# 2 cores shared with builds: few threads, small cleaner buffer (default 128 MB)
num.network.threads=2
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
num.replica.fetchers=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
EOF
}

config_port() { sed -n "s/^$1=.*127\.0\.0\.1:\([0-9]*\)\$/\1/p" "$props" | head -n1; }

# --- commands -----------------------------------------------------------------

# launch the JVM and wait for readiness; returns 0 when ready, 1 on a bind
# failure (caller may retry with other ports), dies on anything else
launch() {
    local port=$1 offset pid waited=0
    # only look at log lines written by this process (the log is appended to
    # across restarts)
    offset=$(($(stat -c %s "$log_file" 2>/dev/null || echo 0) + 1))
    # shellcheck disable=SC2086  # $heap is a list of flags
    nohup java $heap -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
        -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$log_config" -Dweir.kafka.log="$log_file" \
        -cp "$(java_cp)" kafka.Kafka "$props" >>"$out_file" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$pid_file"
    say "broker pid $pid starting on 127.0.0.1:$port (run dir $run_dir)"
    while ((waited < start_timeout * 10)); do
        if tail -c "+$offset" "$log_file" 2>/dev/null | grep -q "Kafka Server started"; then
            echo "127.0.0.1:$port" >"$bootstrap_file"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || true
            rm -f "$pid_file"
            if tail -c "+$offset" "$log_file" 2>/dev/null | grep -q "Address already in use"; then
                return 1
            fi
            die_with_log "broker exited during startup"
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    stop_process KILL
    die_with_log "broker not ready after $start_timeout s"
}

cmd_start() {
    local port="" cport="" attempt pid
    while (($#)); do
        case $1 in
            --port) port=${2:?--port needs a value}; shift 2 ;;
            --controller-port) cport=${2:?--controller-port needs a value}; shift 2 ;;
            *) die "start: unknown argument '$1'" ;;
        esac
    done
    mkdir -p "$run_dir"

    if pid=$(running_pid); then
        say "already running (pid $pid)"
        cat "$bootstrap_file"
        return 0
    fi
    fetch_jars

    # a broker stopped with `kill`: come back on the same ports and data
    if [[ -f "$props" && -f "$data_dir/meta.properties" ]]; then
        local old_port
        old_port=$(config_port advertised.listeners)
        [[ -z "$port" || "$port" == "$old_port" ]] \
            || die "run dir holds a stopped broker on port $old_port; 'broker.sh stop' first to use port $port"
        say "restarting broker with existing config and data"
        launch "$old_port" || die_with_log "port $old_port is taken by another process"
        cat "$bootstrap_file"
        return 0
    fi

    # fresh start: empty data dir, new cluster id, fresh logs
    rm -rf "$data_dir" "$props" "$bootstrap_file"
    : >"$log_file"
    : >"$out_file"
    for attempt in 1 2 3; do
        local p=$port c=$cport
        [[ -n "$p" ]] || p=$(free_port)
        [[ -n "$c" ]] || c=$(free_port "$p")
        write_config "$p" "$c"
        rm -rf "$data_dir"
        java -Dlog4j2.configurationFile="$log_config" -Dweir.kafka.log="$run_dir/tools.log" \
            -cp "$(java_cp)" kafka.tools.StorageTool format \
            -t "$(cluster_id)" -c "$props" --ignore-formatted >>"$out_file" 2>&1 \
            || die_with_log "formatting $data_dir failed"
        if launch "$p"; then
            cat "$bootstrap_file"
            return 0
        fi
        # a port picked as free was taken before the broker bound it
        [[ -z "$port" && -z "$cport" ]] || die_with_log "port $p or $c is in use"
        say "port race on attempt $attempt, retrying with other ports"
    done
    die "could not find free ports"
}

cmd_stop() {
    stop_process TERM
    rm -rf "$data_dir" "$props" "$bootstrap_file"
}

cmd_kill() {
    local signal=TERM
    case ${1:-} in
        "") ;;
        --hard) signal=KILL ;;
        *) die "kill: unknown argument '$1'" ;;
    esac
    stop_process "$signal"
}

cmd_status() {
    running_pid >/dev/null || { say "not running (run dir $run_dir)"; return 1; }
    cat "$bootstrap_file"
}

cmd_tool() {
    local class=${1:?tool needs a class name}
    shift
    fetch_jars
    mkdir -p "$run_dir"
    exec java -Xmx256m -Dlog4j2.configurationFile="$log_config" \
        -Dweir.kafka.log="$run_dir/tools.log" -cp "$(java_cp)" "$class" "$@"
}

cmd_topic() {
    local name=${1:?usage: broker.sh topic NAME PARTITIONS} parts=${2:?usage: broker.sh topic NAME PARTITIONS}
    shift 2
    local bootstrap class
    bootstrap=$(cmd_status) || die "broker is not running"
    # TopicCommand moved from core (kafka.admin) to kafka-tools in 3.5+
    if compgen -G "$(lib_dir)/kafka-tools-[0-9]*.jar" >/dev/null; then
        class=org.apache.kafka.tools.TopicCommand
    else
        class=kafka.admin.TopicCommand
    fi
    # TopicCommand prints "Created topic X." on stdout; keep stdout for callers
    cmd_tool "$class" --bootstrap-server "$bootstrap" --create --if-not-exists \
        --topic "$name" --partitions "$parts" --replication-factor 1 "$@" >&2
}

cmd=${1:-}
(($#)) && shift
case $cmd in
    start) cmd_start "$@" ;;
    stop) cmd_stop ;;
    kill) cmd_kill "$@" ;;
    restart) cmd_kill "$@"; cmd_start ;;
    status) cmd_status ;;
    topic) cmd_topic "$@" ;;
    tool) cmd_tool "$@" ;;
    fetch) fetch_jars; lib_dir ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
