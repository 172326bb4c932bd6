//! Kafka → Wasm filter and map → Kafka, on one partition and on four,
//! against librdkafka's own consume-and-produce throughput on the same
//! broker as the ceiling.
//!
//! Run with `cargo bench -p weir-benches --bench kafka` (the plugins must
//! be built: `cargo xtask plugins`). It starts a broker of its own with
//! `scripts/kafka/broker.sh` and stops it after.
//!
//! - **Throughput.** The input topic is filled with `WEIR_BENCH_KAFKA_EVENTS`
//!   payments (default 500 000) first. Then, in turn, a plain librdkafka
//!   pipe (one thread: consume every record, produce it unchanged) and
//!   `weir run` (filter `amount > 100`, then mask-pii, two workers) copy it
//!   to output topics whose records the broker stamps with their append
//!   time. Throughput is input records over the span between the first and
//!   the last append, so neither start-up nor the end of the run counts.
//! - **Latency.** With weir running, records are produced at a steady
//!   `WEIR_BENCH_KAFKA_RATE` per second (default 20 000) for ten seconds,
//!   each stamped with its creation time; weir keeps that time on the
//!   output record, and a reader takes the difference when it sees the
//!   record. p50 and p99 in milliseconds (Kafka timestamps have no finer
//!   grain).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use weir_benches::si;
use weir_tests::kafka::{Broker, WeirProcess, count, read_all, wait_for};
use weir_tests::{plugin, toml_path};

const LATENCY_SECONDS: u64 = 10;

fn main() {
    let events: usize = env_number("WEIR_BENCH_KAFKA_EVENTS", 500_000);
    let rate: usize = env_number("WEIR_BENCH_KAFKA_RATE", 20_000);
    let broker = Broker::start("bench");
    println!("kafka → filter + map → kafka, {events} events, one broker on loopback, 2 cores");
    println!(
        "{:<12} {:>12} {:>14} {:>12} {:>8} {:>14} {:>14}",
        "partitions", "produce/s", "librdkafka/s", "weir/s", "ratio", "rdk p50/p99", "weir p50/p99"
    );
    println!("(throughput in records per second; latency in ms)");
    let scratch = tempfile::tempdir().expect("a scratch directory");
    for partitions in [1, 4] {
        let input = format!("in-{partitions}");
        broker.topic(&input, partitions);
        let produced = fill(&broker.bootstrap, &input, events, partitions as i32);

        let raw_out = format!("raw-{partitions}");
        broker.append_time_topic(&raw_out, partitions);
        pipe(
            &broker.bootstrap,
            &input,
            &raw_out,
            events,
            &AtomicBool::new(false),
        );
        let raw = append_rate(&broker.bootstrap, &raw_out, events as u64);

        let out = format!("out-{partitions}");
        broker.append_time_topic(&out, partitions);
        let kept = (0..events).filter(|i| amount(*i) > 100).count() as u64;
        let file = pipeline(scratch.path(), &broker, partitions, &input, &out);
        let weir = WeirProcess::start(scratch.path(), &file, &format!("weir-{partitions}"));
        let have = wait_for(&broker.bootstrap, &out, kept, Duration::from_secs(600));
        assert_eq!(have, kept, "weir wrote {have} of {kept}: {}", weir.stderr());
        weir.stop();
        let wasm = append_rate(&broker.bootstrap, &out, events as u64);

        let (raw50, raw99) = latency(&broker, None, partitions, rate);
        let (p50, p99) = latency(&broker, Some(scratch.path()), partitions, rate);
        println!(
            "{partitions:<12} {:>12} {:>14} {:>12} {:>7.2}× {:>14} {:>14}",
            si(produced),
            si(raw),
            si(wasm),
            wasm / raw,
            format!("{raw50} / {raw99}"),
            format!("{p50} / {p99}"),
        );
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn amount(i: usize) -> usize {
    (i * 7919) % 1000
}

fn payment(i: usize) -> String {
    format!(
        r#"{{"id":"p-{i:010}","card":"c-{:04}","amount":{},"currency":"EUR","email":"user{}@example.com","ip":"10.0.{}.{}"}}"#,
        i % 2000,
        amount(i),
        i % 5000,
        i % 250,
        i % 200
    )
}

fn producer(bootstrap: &str) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .expect("bench producer")
}

fn send(producer: &BaseProducer, record: BaseRecord<'_, [u8], [u8]>) {
    let mut record = record;
    loop {
        match producer.send(record) {
            Ok(()) => return,
            Err((_, back)) => {
                record = back;
                producer.poll(Duration::from_millis(10));
            }
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Fills `topic` round-robin over its partitions; returns records per second.
fn fill(bootstrap: &str, topic: &str, events: usize, partitions: i32) -> f64 {
    let producer = producer(bootstrap);
    let started = Instant::now();
    for i in 0..events {
        let value = payment(i);
        let record = BaseRecord::to(topic)
            .payload(value.as_bytes())
            .partition(i as i32 % partitions)
            .timestamp(now_ms());
        send(&producer, record);
        if i % 1024 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(120)).expect("filled");
    events as f64 / started.elapsed().as_secs_f64()
}

/// The ceiling: librdkafka alone copies `events` records of `from` to `to`,
/// partition for partition, on one thread.
fn pipe(bootstrap: &str, from: &str, to: &str, events: usize, stop: &AtomicBool) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "bench-pipe")
        .set("enable.auto.commit", "false")
        .create()
        .expect("bench consumer");
    let metadata = consumer
        .fetch_metadata(Some(from), Duration::from_secs(30))
        .expect("metadata");
    let mut list = TopicPartitionList::new();
    for partition in metadata.topics()[0].partitions() {
        list.add_partition_offset(from, partition.id(), Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&list).expect("assign");
    let producer = producer(bootstrap);
    let mut copied = 0;
    while copied < events && !stop.load(Ordering::Relaxed) {
        let Some(message) = consumer.poll(Duration::from_millis(10)) else {
            producer.poll(Duration::ZERO);
            continue;
        };
        let message = message.expect("consume");
        let mut record = BaseRecord::to(to)
            .payload(message.payload().unwrap_or_default())
            .partition(message.partition());
        if let Some(time) = message.timestamp().to_millis() {
            record = record.timestamp(time);
        }
        send(&producer, record);
        producer.poll(Duration::ZERO);
        copied += 1;
    }
    producer.flush(Duration::from_secs(120)).expect("piped");
}

/// `events` over the span between the first and last append to `topic`.
fn append_rate(bootstrap: &str, topic: &str, events: u64) -> f64 {
    let times: Vec<i64> = read_all(bootstrap, topic)
        .iter()
        .filter_map(|r| r.timestamp)
        .collect();
    let (first, last) = (times.iter().min().unwrap(), times.iter().max().unwrap());
    let span_ms = (last - first).max(1) as f64;
    events as f64 * 1000.0 / span_ms
}

/// A pipeline file in `dir` reading `input` into `out`: filter, then mask.
fn pipeline(dir: &Path, broker: &Broker, partitions: u32, input: &str, out: &str) -> String {
    let text = format!(
        r#"[pipeline]
name = "bench-{partitions}-{input}"
parallelism = 2

[[source]]
name = "in"
type = "kafka"
brokers = "{brokers}"
topics = ["{input}"]
group = "bench-{input}"

[key_by]
field = "card"

[[stage]]
name = "large"
plugin = {filter}
config = {{ field = "amount", op = ">", value = "100" }}

[[stage]]
name = "mask"
plugin = {mask}
config = {{ fields = "email,ip", mode = "hash", salt = "bench" }}

[[sink]]
name = "out"
type = "kafka"
brokers = "{brokers}"
topic = "{out}"
"#,
        brokers = broker.bootstrap,
        filter = toml_path(&plugin("filter")),
        mask = toml_path(&plugin("mask-pii")),
    );
    let file = format!("{input}.toml");
    std::fs::write(dir.join(&file), text).expect("pipeline file");
    file
}

/// p50 and p99 from creation to the output being readable, in ms, at a
/// steady `rate` with weir running.
/// What copies the latency run's input to its output.
enum Copier {
    /// `weir run` with the bench pipeline.
    Weir(WeirProcess),
    /// The librdkafka pipe on a thread, until the flag is set.
    Raw(Arc<AtomicBool>, std::thread::JoinHandle<()>),
}

fn latency(broker: &Broker, dir: Option<&Path>, partitions: u32, rate: usize) -> (i64, i64) {
    let name = if dir.is_some() { "weir" } else { "raw" };
    let input = format!("lat-{name}-in-{partitions}");
    let out = format!("lat-{name}-out-{partitions}");
    broker.topic(&input, partitions);
    broker.topic(&out, partitions);
    let copier = match dir {
        Some(dir) => {
            let file = pipeline(dir, broker, partitions, &input, &out);
            let weir = WeirProcess::start(dir, &file, &format!("lat-{partitions}"));
            assert!(
                weir.wait_for_log("kafka partitions assigned", Duration::from_secs(60)),
                "{}",
                weir.stderr()
            );
            Copier::Weir(weir)
        }
        None => {
            let stop = Arc::new(AtomicBool::new(false));
            let (bootstrap, from, to) = (broker.bootstrap.clone(), input.clone(), out.clone());
            let flag = stop.clone();
            let thread =
                std::thread::spawn(move || pipe(&bootstrap, &from, &to, usize::MAX, &flag));
            Copier::Raw(stop, thread)
        }
    };
    // Assigned, not subscribed: no group to join before it reads.
    let reader: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &broker.bootstrap)
        .set("group.id", format!("bench-reader-{partitions}"))
        .set("fetch.wait.max.ms", "5")
        .create()
        .expect("reader");
    let mut list = TopicPartitionList::new();
    for p in 0..partitions as i32 {
        list.add_partition_offset(&out, p, Offset::Beginning)
            .expect("partition");
    }
    reader.assign(&list).expect("assign");
    // One poll, so that the reader has its fetch positions before the
    // first record is made.
    let _ = reader.poll(Duration::from_millis(500));
    let bootstrap = broker.bootstrap.clone();
    let feeder = std::thread::spawn(move || {
        let producer = producer(&bootstrap);
        let total = rate * LATENCY_SECONDS as usize;
        let started = Instant::now();
        for i in 0..total {
            let due = Duration::from_secs_f64(i as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
            let value = payment(i);
            let record = BaseRecord::to(&input)
                .payload(value.as_bytes())
                .partition(i as i32 % partitions as i32)
                .timestamp(now_ms());
            send(&producer, record);
            producer.poll(Duration::ZERO);
        }
        producer.flush(Duration::from_secs(60)).expect("fed");
        total
    });
    let kept = (0..rate * LATENCY_SECONDS as usize)
        .filter(|i| amount(*i) > 100)
        .count();
    let mut latencies = Vec::with_capacity(kept);
    let deadline = Instant::now() + Duration::from_secs(LATENCY_SECONDS * 6);
    while latencies.len() < kept && Instant::now() < deadline {
        if let Some(Ok(message)) = reader.poll(Duration::from_millis(100))
            && let Some(created) = message.timestamp().to_millis()
        {
            latencies.push(now_ms() - created);
        }
    }
    feeder.join().expect("the feeder");
    match copier {
        Copier::Weir(weir) => {
            weir.stop();
        }
        Copier::Raw(stop, thread) => {
            stop.store(true, Ordering::Relaxed);
            thread.join().expect("the pipe");
        }
    }
    assert_eq!(
        latencies.len(),
        kept,
        "{} records in `{out}`",
        count(&broker.bootstrap, &out)
    );
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    if std::env::var_os("WEIR_BENCH_KAFKA_VERBOSE").is_some() {
        println!(
            "  latency p10 {} p50 {} p90 {} p95 {} p99 {} max {}",
            at(0.1),
            at(0.5),
            at(0.9),
            at(0.95),
            at(0.99),
            at(1.0)
        );
    }
    (at(0.5), at(0.99))
}
