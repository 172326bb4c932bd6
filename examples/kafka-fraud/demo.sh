#!/usr/bin/env bash
# demo.sh - the Kafka fraud example from start to finish on this machine:
# a broker on 127.0.0.1:9092 (scripts/kafka/broker.sh), the topics, 100 000
# payments produced by produce.toml, pipeline.toml run until it has read them
# all, a few alerts and dead letters shown, and the broker stopped again.
#
# usage: examples/kafka-fraud/demo.sh        (from anywhere; builds what it needs)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
broker="$repo/scripts/kafka/broker.sh"
export WEIR_KAFKA_RUN=${WEIR_KAFKA_RUN:-$repo/target/kafka-demo}
bootstrap=127.0.0.1:9092
metrics=127.0.0.1:9465

cd "$repo"
cargo xtask plugins >/dev/null
cargo build --release -p weir --quiet
target=${CARGO_TARGET_DIR:-$repo/target}
weir="$target/release/weir"

"$broker" start --port 9092 >/dev/null
trap '"$broker" stop >/dev/null' EXIT
"$broker" topic payments 4
"$broker" topic alerts 1
"$broker" topic payments-dlq 1

echo "producing 100000 payments into \`payments\`"
"$weir" run "$here/produce.toml"

echo "running the fraud pipeline until it has read them all"
"$weir" run "$here/pipeline.toml" --metrics-addr "$metrics" &
pid=$!
read_so_far() {
    # The source's counter from the Prometheus endpoint, without curl.
    exec 3<>"/dev/tcp/${metrics%:*}/${metrics#*:}" || { echo 0; return; }
    printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3
    grep -o 'weir_source_events_total{[^}]*source="payments"} [0-9]*' <&3 | awk '{print $2}' || true
    exec 3<&-
}
for _ in $(seq 1 600); do
    sleep 0.5
    n=$(read_so_far 2>/dev/null || true)
    if [ "${n:-0}" -ge 100000 ]; then break; fi
done
kill -INT "$pid"
wait "$pid"

echo
echo "the first alerts:"
"$broker" tool org.apache.kafka.tools.consumer.ConsoleConsumer \
    --bootstrap-server "$bootstrap" --topic alerts --from-beginning \
    --max-messages 3 --timeout-ms 20000 2>/dev/null
echo
echo "the first dead letters, with their headers:"
"$broker" tool org.apache.kafka.tools.consumer.ConsoleConsumer \
    --bootstrap-server "$bootstrap" --topic payments-dlq --from-beginning \
    --property print.headers=true --max-messages 2 --timeout-ms 20000 2>/dev/null
