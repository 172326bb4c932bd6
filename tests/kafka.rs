//! Kafka sources and sinks against a real Apache Kafka broker (started with
//! `scripts/kafka/broker.sh` for this test process and stopped after it):
//! exact outputs end to end, two processes sharing a consumer group, a
//! broker restart in the middle of a run, poison records in the
//! dead-letter topic with headers naming the error and the record, and a
//! checkpointed pipeline killed with SIGKILL at random moments whose
//! committed output is exactly once.
//!
//! One broker serves every case, so the cases run one after another from
//! this file's own `main` (the test harness has no hook to stop a shared
//! server); each case has topics and a group of its own. `cargo test --test
//! kafka -- NAME` runs the cases whose name contains NAME.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use serde_json::Value;
use weir_tests::kafka::{
    Broker, Outgoing, WeirProcess, committed, produce, produce_paced, read_all, summary_number,
    wait_for,
};
use weir_tests::{
    Rng, Scratch, free_port, plugin, run_pipeline, scrape_metrics, toml_path, window_line,
};

/// The longest any case waits for outputs to appear.
const OUTPUT_WAIT: Duration = Duration::from_secs(90);

type Case = fn(&Broker);

fn main() {
    let cases: [(&str, Case); 10] = [
        ("end_to_end_outputs_are_exactly_the_reference", end_to_end),
        ("two_processes_split_a_group_and_hand_over", two_processes),
        (
            "a_broker_down_at_start_and_mid_run_loses_nothing",
            broker_restart,
        ),
        (
            "poison_records_reach_the_dlq_topic_with_headers",
            poison_records,
        ),
        ("a_header_chooses_the_output_topic", topic_header),
        ("a_slow_stage_pauses_the_partitions", backpressure),
        ("a_record_not_delivered_is_never_committed", undeliverable),
        ("a_new_group_starts_at_a_timestamp", start_at_a_timestamp),
        ("each_partition_has_its_own_watermark", partition_watermarks),
        (
            "killed_at_random_moments_the_checkpointed_output_is_exactly_once",
            killed_at_random_moments,
        ),
    ];
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if std::env::args().any(|a| a == "--list") {
        for (name, _) in cases {
            println!("{name}: test");
        }
        return;
    }
    let chosen: Vec<(&str, Case)> = cases
        .into_iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    if chosen.is_empty() {
        println!("running 0 tests");
        return;
    }
    println!("running {} tests", chosen.len());
    let started = Instant::now();
    let broker = Broker::start("tests");
    let mut failed = Vec::new();
    for (name, case) in chosen.iter().copied() {
        let at = Instant::now();
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| case(&broker)));
        let verdict = if result.is_ok() { "ok" } else { "FAILED" };
        println!(
            "test {name} ... {verdict} ({:.1} s)",
            at.elapsed().as_secs_f64()
        );
        if result.is_err() {
            failed.push(name);
        }
    }
    drop(broker);
    println!(
        "\ntest result: {}. {} passed; {} failed; finished in {:.1} s",
        if failed.is_empty() { "ok" } else { "FAILED" },
        chosen.len() - failed.len(),
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    if !failed.is_empty() {
        println!("failures: {failed:?}");
        std::process::exit(1);
    }
}

/// A `[[source]]` of type kafka reading `topic` in `group`.
fn kafka_source(broker: &Broker, topic: &str, group: &str) -> String {
    format!(
        r#"
[[source]]
name = "in"
type = "kafka"
brokers = "{}"
topics = ["{topic}"]
group = "{group}"
commit_interval_ms = 200
"#,
        broker.bootstrap
    )
}

/// A kafka sink table (`[[sink]]`, `[dead_letter]`) writing to `topic`.
fn kafka_sink(broker: &Broker, table: &str, topic: &str) -> String {
    let name = if table == "[[sink]]" {
        "name = \"out\"\n"
    } else {
        ""
    };
    format!(
        "\n{table}\n{name}type = \"kafka\"\nbrokers = \"{}\"\ntopic = \"{topic}\"\n",
        broker.bootstrap
    )
}

/// The stages of the end-to-end pipeline: the large payments, masked.
fn payment_stages() -> String {
    format!(
        r#"
[key_by]
field = "card"

[[stage]]
name = "large"
plugin = {}
config = {{ field = "amount", op = ">", value = "100" }}

[[stage]]
name = "mask"
plugin = {}
config = {{ fields = "email,ip", mode = "hash", salt = "kafka-test" }}
"#,
        toml_path(&plugin("filter")),
        toml_path(&plugin("mask-pii")),
    )
}

/// The generator both the producer and the reference run use.
const GENERATED: &str = r#"
[[source]]
name = "gen"
type = "generator"
events = "payments"
count = 20000
seed = 11
partitions = 4
malformed = 0.01
"#;

fn end_to_end(broker: &Broker) {
    broker.topic("e2e-in", 4);
    broker.topic("e2e-out", 1);
    broker.topic("e2e-dlq", 1);
    let scratch = Scratch::new();

    // The reference: the same generator and stages, file to file.
    let reference = format!(
        "[pipeline]\nname = \"reference\"\nparallelism = 2\n{GENERATED}{}\n[[sink]]\nname = \
         \"out\"\ntype = \"file\"\npath = \"expected.jsonl\"\n[dead_letter]\ntype = \
         \"file\"\npath = \"expected-dead.jsonl\"\n",
        payment_stages()
    );
    let path = scratch.write("reference.toml", &reference);
    run_pipeline(&path).expect("the reference runs");
    let mut expected = scratch.lines("expected.jsonl");
    let expected_dead = scratch.lines("expected-dead.jsonl").len() as u64;
    assert!(expected.len() > 1000, "too few outputs to mean anything");

    // The producer is a weir pipeline too: generator to the kafka sink.
    let producer = format!(
        "[pipeline]\nname = \"producer\"\n{GENERATED}{}",
        kafka_sink(broker, "[[sink]]", "e2e-in")
    );
    let path = scratch.write("producer.toml", &producer);
    let summary = run_pipeline(&path).expect("the producer runs");
    assert_eq!(summary.written, 20000);

    let pipeline = format!(
        "[pipeline]\nname = \"e2e\"\nparallelism = 2\n{}{}{}{}",
        kafka_source(broker, "e2e-in", "e2e"),
        payment_stages(),
        kafka_sink(broker, "[[sink]]", "e2e-out"),
        kafka_sink(broker, "[dead_letter]", "e2e-dlq"),
    );
    scratch.write("e2e.toml", &pipeline);
    let weir = WeirProcess::start(scratch.path(), "e2e.toml", "e2e");
    let want = expected.len() as u64;
    let have = wait_for(&broker.bootstrap, "e2e-out", want, OUTPUT_WAIT);
    assert!(
        have >= want,
        "only {have} of {want} outputs: {}",
        weir.stderr()
    );
    wait_for(&broker.bootstrap, "e2e-dlq", expected_dead, OUTPUT_WAIT);
    let stderr = weir.stop();
    assert_eq!(summary_number(&stderr, "read"), 20000, "{stderr}");

    let mut outputs: Vec<String> = read_all(&broker.bootstrap, "e2e-out")
        .iter()
        .map(|r| r.text())
        .collect();
    report_duplicates("e2e-out", &outputs);
    outputs.sort();
    expected.sort();
    assert_eq!(outputs.len(), expected.len(), "outputs differ in number");
    assert!(outputs == expected, "outputs differ from the reference");

    let dead = read_all(&broker.bootstrap, "e2e-dlq");
    assert_eq!(dead.len() as u64, expected_dead);
    for letter in &dead {
        assert_eq!(
            letter.header("weir.error.kind").as_deref(),
            Some("malformed")
        );
        assert_eq!(
            letter.header("weir.source.topic").as_deref(),
            Some("e2e-in")
        );
    }

    // Every offset read is committed: a restart would read nothing again.
    let mut ends = vec![None; 4];
    for record in read_all(&broker.bootstrap, "e2e-in") {
        ends[record.partition as usize] = Some(record.offset + 1);
    }
    assert_eq!(committed(&broker.bootstrap, "e2e", "e2e-in"), ends);
}

/// Prints how many values occur more than once (at least once allows them;
/// a clean run should have none) and fails if any does.
fn report_duplicates(topic: &str, values: &[String]) {
    let mut seen = HashSet::new();
    let duplicates: Vec<&String> = values.iter().filter(|v| !seen.insert(*v)).collect();
    if !duplicates.is_empty() {
        println!(
            "{topic}: {} duplicates, e.g. {}",
            duplicates.len(),
            duplicates[0]
        );
    }
    assert!(duplicates.is_empty(), "{topic} has duplicates");
}

/// `n` JSON records `{"id":"<prefix>-<i>","card":…,"amount":i}`, spread
/// round-robin over `partitions`.
fn numbered(prefix: &str, n: usize, partitions: i32) -> Vec<(i32, String)> {
    (0..n)
        .map(|i| {
            let value = format!(
                r#"{{"id":"{prefix}-{i:05}","card":"c-{:04}","amount":{i}}}"#,
                i % 97
            );
            ((i % partitions as usize) as i32, value)
        })
        .collect()
}

fn produce_values(broker: &Broker, topic: &str, records: &[(i32, String)]) {
    let outgoing: Vec<Outgoing<'_>> = records
        .iter()
        .map(|(partition, value)| Outgoing {
            partition: Some(*partition),
            ..Outgoing::value(value.as_bytes())
        })
        .collect();
    produce(&broker.bootstrap, topic, &outgoing);
}

/// A pipeline passing every event through a plugin stage, kafka to kafka.
fn pass_through(broker: &Broker, name: &str, topic_in: &str, topic_out: &str) -> String {
    format!(
        r#"[pipeline]
name = "{name}"
parallelism = 2
{}
[key_by]
field = "card"

[[stage]]
name = "all"
plugin = {}
config = {{ field = "amount", op = ">", value = "-1" }}
{}"#,
        kafka_source(broker, topic_in, name),
        toml_path(&plugin("filter")),
        kafka_sink(broker, "[[sink]]", topic_out),
    )
}

/// Checks that `topic` holds exactly the values of `records`, once each.
fn assert_exactly(broker: &Broker, topic: &str, records: &[(i32, String)]) {
    let outputs: Vec<String> = read_all(&broker.bootstrap, topic)
        .iter()
        .map(|r| r.text())
        .collect();
    report_duplicates(topic, &outputs);
    let got: HashSet<&String> = outputs.iter().collect();
    let missing: Vec<&String> = records
        .iter()
        .map(|(_, v)| v)
        .filter(|v| !got.contains(v))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} events missing from {topic}, e.g. {}",
        missing.len(),
        records.len(),
        missing[0]
    );
    assert_eq!(outputs.len(), records.len());
}

fn two_processes(broker: &Broker) {
    broker.topic("group-in", 4);
    broker.topic("group-out", 1);
    let scratch = Scratch::new();
    scratch.write(
        "pipeline.toml",
        &pass_through(broker, "grouped", "group-in", "group-out"),
    );
    let records = numbered("g", 15000, 4);
    let wait = Duration::from_secs(60);

    let first = WeirProcess::start(scratch.path(), "pipeline.toml", "first");
    assert!(
        first.wait_for_log("kafka partitions assigned", wait),
        "{}",
        first.stderr()
    );
    produce_values(broker, "group-in", &records[..5000]);
    assert!(wait_for(&broker.bootstrap, "group-out", 5000, OUTPUT_WAIT) >= 5000);

    // A second member: the group splits the four partitions between them.
    let second = WeirProcess::start(scratch.path(), "pipeline.toml", "second");
    assert!(
        second.wait_for_log("kafka partitions assigned", wait),
        "{}",
        second.stderr()
    );
    produce_values(broker, "group-in", &records[5000..10000]);
    let have = wait_for(&broker.bootstrap, "group-out", 10000, OUTPUT_WAIT);
    assert!(have >= 10000, "{have}: {}", second.stderr());

    // The first leaves; its partitions move to the second.
    let first_log = first.stop();
    produce_values(broker, "group-in", &records[10000..]);
    let have = wait_for(&broker.bootstrap, "group-out", 15000, OUTPUT_WAIT);
    assert!(have >= 15000, "{have}: {}", second.stderr());
    let second_log = second.stop();

    let (read_first, read_second) = (
        summary_number(&first_log, "read"),
        summary_number(&second_log, "read"),
    );
    println!("group: the first read {read_first}, the second {read_second}");
    assert!(read_first > 0 && read_second > 0, "one member read nothing");
    assert!(
        second_log.contains("kafka partitions revoked"),
        "{second_log}"
    );
    assert_exactly(broker, "group-out", &records);
    assert_eq!(read_first + read_second, 15000);
}

fn broker_restart(broker: &Broker) {
    broker.topic("restart-in", 2);
    broker.topic("restart-out", 1);
    let scratch = Scratch::new();
    scratch.write(
        "pipeline.toml",
        &pass_through(broker, "restarted", "restart-in", "restart-out"),
    );
    let records = numbered("r", 10000, 2);

    // Down when weir starts: it reports the failures, in the log and the
    // metrics, and keeps trying.
    broker.pause();
    let metrics = format!("127.0.0.1:{}", free_port());
    let args = ["--metrics-addr", metrics.as_str()];
    let weir = WeirProcess::start_with(scratch.path(), "pipeline.toml", "weir", &args);
    assert!(
        weir.wait_for_log("kafka client error", Duration::from_secs(30)),
        "{}",
        weir.stderr()
    );
    let body = scrape_metrics(&metrics).unwrap_or_default();
    let errors: u64 = body
        .lines()
        .find(|l| {
            l.starts_with(r#"weir_kafka_client_errors_total{pipeline="restarted",client="in"}"#)
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(errors > 0, "no client errors counted: {body}");
    broker.resume();
    assert!(
        weir.wait_for_log("kafka partitions assigned", Duration::from_secs(60)),
        "{}",
        weir.stderr()
    );
    produce_values(broker, "restart-in", &records[..5000]);
    assert!(wait_for(&broker.bootstrap, "restart-out", 5000, OUTPUT_WAIT) >= 5000);

    // Down for a few seconds with weir running; it reconnects by itself.
    broker.pause();
    std::thread::sleep(Duration::from_secs(3));
    broker.resume();
    produce_values(broker, "restart-in", &records[5000..]);
    let have = wait_for(&broker.bootstrap, "restart-out", 10000, OUTPUT_WAIT);
    assert!(have >= 10000, "{have}: {}", weir.stderr());
    let stderr = weir.stop();
    assert!(stderr.contains("kafka client error"), "{stderr}");
    assert_exactly(broker, "restart-out", &records);
}

fn poison_records(broker: &Broker) {
    broker.topic("poison-in", 1);
    broker.topic("poison-out", 1);
    broker.topic("poison-dlq", 1);
    let scratch = Scratch::new();
    let pipeline = format!(
        r#"[pipeline]
name = "poison"
{}
[key_by]
field = "id"

[[stage]]
name = "validate"
plugin = {}
config.schema = '{{"type":"object","required":["id","amount"],"properties":{{"amount":{{"type":"number"}}}}}}'

[[stage]]
name = "hostile"
plugin = {}
config = {{ behaviour = "panic" }}
{}{}"#,
        kafka_source(broker, "poison-in", "poison"),
        toml_path(&plugin("json-schema")),
        toml_path(&plugin("hostile")),
        kafka_sink(broker, "[[sink]]", "poison-out"),
        kafka_sink(broker, "[dead_letter]", "poison-dlq"),
    );
    scratch.write("pipeline.toml", &pipeline);
    let values: [&[u8]; 5] = [
        br#"{"id":"ok-0","amount":5}"#,
        b"not json",
        br#"{"id":"bad-2","amount":"five"}"#,
        br#"{"id":"trap-3","amount":1,"mark":true}"#,
        br#"{"id":"ok-4","amount":7}"#,
    ];
    let outgoing: Vec<Outgoing<'_>> = values
        .iter()
        .map(|v| Outgoing {
            key: Some(b"k"),
            headers: &[("trace", b"t-1")],
            ..Outgoing::value(v)
        })
        .collect();
    let at = produce(&broker.bootstrap, "poison-in", &outgoing);
    assert_eq!(at, (0..5).map(|o| (0, o)).collect::<Vec<_>>());

    let weir = WeirProcess::start(scratch.path(), "pipeline.toml", "weir");
    assert!(wait_for(&broker.bootstrap, "poison-dlq", 3, OUTPUT_WAIT) >= 3);
    assert!(wait_for(&broker.bootstrap, "poison-out", 2, OUTPUT_WAIT) >= 2);
    weir.stop();

    let out: Vec<String> = read_all(&broker.bootstrap, "poison-out")
        .iter()
        .map(|r| r.text())
        .collect();
    assert_eq!(
        out,
        [r#"{"id":"ok-0","amount":5}"#, r#"{"id":"ok-4","amount":7}"#]
    );

    let dead = read_all(&broker.bootstrap, "poison-dlq");
    let headers: Vec<BTreeMap<String, String>> = dead
        .iter()
        .map(|r| {
            r.headers
                .iter()
                .map(|(n, v)| (n.clone(), String::from_utf8_lossy(v).into_owned()))
                .collect()
        })
        .collect();
    let expect = |offset: &str, kind: &str, stage: Option<&str>, message: &str| {
        let mut h = BTreeMap::from([
            ("weir.error.kind".to_string(), kind.to_string()),
            ("weir.error.message".to_string(), message.to_string()),
            ("weir.source.name".to_string(), "in".to_string()),
            ("weir.source.topic".to_string(), "poison-in".to_string()),
            ("weir.source.partition".to_string(), "0".to_string()),
            ("weir.source.offset".to_string(), offset.to_string()),
        ]);
        if let Some(stage) = stage {
            h.insert("weir.error.stage".to_string(), stage.to_string());
        }
        h
    };
    let trap = headers
        .get(2)
        .and_then(|h| h.get("weir.error.message"))
        .cloned()
        .unwrap_or_default();
    assert!(
        trap.contains("hostile: poisoned event \"trap-3\""),
        "trap message: {trap}"
    );
    assert_eq!(
        headers,
        [
            expect(
                "1",
                "malformed",
                None,
                "value is not json: invalid json at byte 1: expected `null`"
            ),
            expect(
                "2",
                "rejected",
                Some("validate"),
                "/amount: \"five\" is not of type \"number\""
            ),
            expect("3", "trap", Some("hostile"), &trap),
        ]
    );
    // The record is the dead-letter JSON, naming the same position; the
    // key is the original record's.
    let record: Value = serde_json::from_slice(&dead[1].value).unwrap();
    assert_eq!(
        record["source"],
        serde_json::json!({"name": "in", "topic": "poison-in", "partition": 0, "offset": 2})
    );
    assert_eq!(record["event"]["value"]["id"], "bad-2");
    assert_eq!(record["event"]["headers"]["trace"], "t-1");
    assert_eq!(dead[1].key.as_deref(), Some(&b"k"[..]));
}

fn topic_header(broker: &Broker) {
    broker.topic("route-in", 1);
    broker.topic("route-default", 1);
    broker.topic("route-eu", 1);
    let scratch = Scratch::new();
    let pipeline = format!(
        "[pipeline]\nname = \"routed\"\n{}{}topic_header = \"route\"\n",
        kafka_source(broker, "route-in", "routed"),
        kafka_sink(broker, "[[sink]]", "route-default"),
    );
    scratch.write("pipeline.toml", &pipeline);
    type Headers<'a> = &'a [(&'a str, &'a [u8])];
    let records: Vec<(&[u8], Headers<'_>)> = vec![
        (br#"{"n":0}"#, &[("trace", b"t-0")]),
        (br#"{"n":1}"#, &[("route", b"route-eu"), ("trace", b"t-1")]),
        (br#"{"n":2}"#, &[]),
        (br#"{"n":3}"#, &[("route", b"route-eu")]),
    ];
    let outgoing: Vec<Outgoing<'_>> = records
        .iter()
        .map(|(value, headers)| Outgoing {
            headers,
            ..Outgoing::value(value)
        })
        .collect();
    produce(&broker.bootstrap, "route-in", &outgoing);
    let weir = WeirProcess::start(scratch.path(), "pipeline.toml", "weir");
    assert!(wait_for(&broker.bootstrap, "route-eu", 2, OUTPUT_WAIT) >= 2);
    assert!(wait_for(&broker.bootstrap, "route-default", 2, OUTPUT_WAIT) >= 2);
    weir.stop();

    let summary = |topic: &str| -> Vec<(String, Vec<(String, String)>)> {
        read_all(&broker.bootstrap, topic)
            .iter()
            .map(|r| {
                let headers = r
                    .headers
                    .iter()
                    .map(|(n, v)| (n.clone(), String::from_utf8_lossy(v).into_owned()))
                    .collect();
                (r.text(), headers)
            })
            .collect()
    };
    let header = |n: &str, v: &str| vec![(n.to_string(), v.to_string())];
    // The routing header is not written; the others are.
    assert_eq!(
        summary("route-default"),
        [
            (r#"{"n":0}"#.to_string(), header("trace", "t-0")),
            (r#"{"n":2}"#.to_string(), vec![]),
        ]
    );
    assert_eq!(
        summary("route-eu"),
        [
            (r#"{"n":1}"#.to_string(), header("trace", "t-1")),
            (r#"{"n":3}"#.to_string(), vec![]),
        ]
    );
}

fn backpressure(broker: &Broker) {
    broker.topic("slow-in", 1);
    broker.topic("slow-out", 1);
    broker.topic("slow-dlq", 1);
    let scratch = Scratch::new();
    // One small batch at a time in flight, and a stage that takes seconds
    // over a marked event (it loops until its 400 ms timeout, and the batch
    // is bisected around it): the source must stop reading and pause, and
    // still lose nothing.
    let pipeline = format!(
        r#"[pipeline]
name = "slow"
batch_size = 8
channel_capacity = 1
{}
[[stage]]
name = "slow"
plugin = {}
config = {{ behaviour = "loop" }}
limits = {{ timeout_ms = 400 }}
{}{}"#,
        kafka_source(broker, "slow-in", "slow"),
        toml_path(&plugin("hostile")),
        kafka_sink(broker, "[[sink]]", "slow-out"),
        kafka_sink(broker, "[dead_letter]", "slow-dlq"),
    );
    scratch.write("pipeline.toml", &pipeline);
    let values: Vec<String> = (0..200)
        .map(|i| format!(r#"{{"id":{i},"mark":{}}}"#, i % 50 == 7))
        .collect();
    let outgoing: Vec<Outgoing<'_>> = values
        .iter()
        .map(|v| Outgoing::value(v.as_bytes()))
        .collect();
    produce(&broker.bootstrap, "slow-in", &outgoing);
    let weir = WeirProcess::start(scratch.path(), "pipeline.toml", "weir");
    assert!(wait_for(&broker.bootstrap, "slow-dlq", 4, OUTPUT_WAIT) >= 4);
    assert!(wait_for(&broker.bootstrap, "slow-out", 196, OUTPUT_WAIT) >= 196);
    let stderr = weir.stop();
    assert!(
        stderr.contains("workers behind: kafka partitions paused"),
        "{stderr}"
    );
    assert!(
        stderr.contains("workers caught up: kafka partitions resumed"),
        "{stderr}"
    );
    let out: Vec<String> = read_all(&broker.bootstrap, "slow-out")
        .iter()
        .map(|r| r.text())
        .collect();
    let expected: Vec<&String> = values.iter().filter(|v| v.ends_with("false}")).collect();
    assert_eq!(out.iter().collect::<Vec<_>>(), expected);
    let dead: Vec<String> = read_all(&broker.bootstrap, "slow-dlq")
        .iter()
        .map(|r| r.header("weir.error.kind").unwrap_or_default())
        .collect();
    assert_eq!(dead, ["timeout"; 4]);
}

fn undeliverable(broker: &Broker) {
    broker.topic("undelivered-in", 1);
    let scratch = Scratch::new();
    // The output topic does not exist (and the broker creates none), so no
    // record can be delivered; librdkafka gives up after two seconds.
    let pipeline = format!(
        "[pipeline]\nname = \"undelivered\"\n{}{}properties = {{ \"message.timeout.ms\" = 2000 }}\n",
        kafka_source(broker, "undelivered-in", "undelivered"),
        kafka_sink(broker, "[[sink]]", "no-such-topic"),
    );
    scratch.write("pipeline.toml", &pipeline);
    let values: Vec<String> = (0..10).map(|i| format!(r#"{{"n":{i}}}"#)).collect();
    let outgoing: Vec<Outgoing<'_>> = values
        .iter()
        .map(|v| Outgoing::value(v.as_bytes()))
        .collect();
    produce(&broker.bootstrap, "undelivered-in", &outgoing);

    let weir = WeirProcess::start(scratch.path(), "pipeline.toml", "weir");
    let (success, stderr) = weir.wait(Duration::from_secs(60));
    assert!(!success, "{stderr}");
    assert!(
        stderr.contains(
            "sink `out`: a record for `no-such-topic` could not be delivered: Message production \
             error: MessageTimedOut (Local: Message timed out)"
        ),
        "{stderr}"
    );
    // Nothing was written, so nothing is committed: a fixed pipeline reads
    // every record again.
    assert_eq!(
        committed(&broker.bootstrap, "undelivered", "undelivered-in"),
        [None]
    );
}

fn start_at_a_timestamp(broker: &Broker) {
    broker.topic("dated-in", 1);
    broker.topic("dated-out", 1);
    let scratch = Scratch::new();
    let source = kafka_source(broker, "dated-in", "dated");
    let pipeline = format!(
        "[pipeline]\nname = \"dated\"\n{}start = {{ timestamp_ms = 3500 }}\n{}",
        source,
        kafka_sink(broker, "[[sink]]", "dated-out"),
    );
    scratch.write("pipeline.toml", &pipeline);
    let values: Vec<String> = (1..=6).map(|i| format!(r#"{{"n":{i}}}"#)).collect();
    let dated = |from: usize| -> Vec<Outgoing<'_>> {
        values[from..]
            .iter()
            .enumerate()
            .map(|(i, v)| Outgoing {
                timestamp: Some((from + i + 1) as i64 * 1000),
                ..Outgoing::value(v.as_bytes())
            })
            .collect()
    };
    produce(&broker.bootstrap, "dated-in", &dated(0)[..5]);
    let weir = WeirProcess::start(scratch.path(), "pipeline.toml", "first");
    assert!(wait_for(&broker.bootstrap, "dated-out", 2, OUTPUT_WAIT) >= 2);
    weir.stop();

    // Again with the same group: its committed offset wins over the
    // timestamp, so only the new record is read.
    produce(&broker.bootstrap, "dated-in", &dated(5));
    let weir = WeirProcess::start(scratch.path(), "pipeline.toml", "second");
    assert!(wait_for(&broker.bootstrap, "dated-out", 3, OUTPUT_WAIT) >= 3);
    weir.stop();

    let out: Vec<(String, Option<i64>)> = read_all(&broker.bootstrap, "dated-out")
        .iter()
        .map(|r| (r.text(), r.timestamp))
        .collect();
    let expected: Vec<(String, Option<i64>)> = (4..=6)
        .map(|i| (format!(r#"{{"n":{i}}}"#), Some(i * 1000)))
        .collect();
    assert_eq!(out, expected);
}

fn partition_watermarks(broker: &Broker) {
    broker.topic("times-in", 2);
    broker.topic("times-out", 1);
    let scratch = Scratch::new();
    // Partition 0 runs an hour ahead of partition 1 in event time. One
    // watermark for the whole consumer would make every event of partition
    // 1 late; a watermark per partition, merged by minimum, makes none.
    let pipeline = format!(
        r#"[pipeline]
name = "times"
{}
[key_by]
field = "card"

[event_time]
max_out_of_orderness_ms = 1000

[[stage]]
name = "per-minute"
window = {{ type = "tumbling", size_ms = 60000 }}
aggregates = [{{ function = "count" }}]
{}
[late]
type = "file"
path = "late.jsonl"
"#,
        kafka_source(broker, "times-in", "times"),
        kafka_sink(broker, "[[sink]]", "times-out"),
    );
    scratch.write("pipeline.toml", &pipeline);
    let hour = 3_600_000;
    let mut values = Vec::new();
    for i in 0..600i64 {
        let partition = (i % 2) as i32;
        let time = i * 1000 + if partition == 0 { hour } else { 0 };
        values.push((
            partition,
            time,
            format!(r#"{{"card":"c-{}","i":{i}}}"#, i % 3),
        ));
    }
    let outgoing: Vec<Outgoing<'_>> = values
        .iter()
        .map(|(partition, time, value)| Outgoing {
            partition: Some(*partition),
            timestamp: Some(*time),
            ..Outgoing::value(value.as_bytes())
        })
        .collect();
    produce(&broker.bootstrap, "times-in", &outgoing);
    let weir = WeirProcess::start(scratch.path(), "pipeline.toml", "weir");
    // The windows of partition 1's hour complete while the source runs,
    // held back by nothing but partition 1 itself.
    assert!(wait_for(&broker.bootstrap, "times-out", 10, OUTPUT_WAIT) >= 10);
    let stderr = weir.stop();
    assert_eq!(
        scratch.lines("late.jsonl"),
        Vec::<String>::new(),
        "{stderr}"
    );

    let mut expected: BTreeMap<(String, i64), u64> = BTreeMap::new();
    for (_, time, value) in &values {
        let v: Value = serde_json::from_str(value).unwrap();
        let card = v["card"].as_str().unwrap().to_string();
        *expected.entry((card, time - time % 60_000)).or_default() += 1;
    }
    let mut got: BTreeMap<(String, i64), u64> = BTreeMap::new();
    for record in read_all(&broker.bootstrap, "times-out") {
        let v: Value = serde_json::from_slice(&record.value).unwrap();
        assert_eq!(v["update"], false, "{v}");
        let key = (
            v["key"].as_str().unwrap().to_string(),
            v["window_start"].as_i64().unwrap(),
        );
        let previous = got.insert(key, v["count"].as_u64().unwrap());
        assert!(previous.is_none(), "a window emitted twice: {v}");
    }
    assert_eq!(got, expected);
}

/// Payments the checkpointed case produces (besides one flush per
/// partition).
const CHAOS_RECORDS: usize = 100_000;
/// How fast they are produced, so that the pipeline runs for a while.
const CHAOS_RATE: u64 = 8_000;
/// Partitions of its input topic.
const CHAOS_PARTITIONS: i32 = 4;
/// Event time of the first payment; each next one is 10 ms later.
const CHAOS_START_MS: i64 = 1_767_225_600_000;

/// The checkpointed case's records: payments `{"card","ts","amount"}`,
/// round-robin over the partitions with `ts` increasing, then on every
/// partition a `flush` record an hour ahead in event time, which closes
/// every window of the payments.
fn chaos_records() -> Vec<(i32, String)> {
    let mut records: Vec<(i32, String)> = (0..CHAOS_RECORDS)
        .map(|i| {
            let value = format!(
                r#"{{"card":"c-{:03}","ts":{},"amount":{}}}"#,
                (i * 7) % 61,
                CHAOS_START_MS + i as i64 * 10,
                (i * 7919) % 10_007
            );
            (i as i32 % CHAOS_PARTITIONS, value)
        })
        .collect();
    let end = CHAOS_START_MS + CHAOS_RECORDS as i64 * 10 + 3_600_000;
    for partition in 0..CHAOS_PARTITIONS {
        let value = format!(r#"{{"card":"flush","ts":{end},"amount":0}}"#);
        records.push((partition, value));
    }
    records
}

/// The window results the pipeline must write for `records`, sorted: 10 s
/// tumbling windows per card with count, min and max of the amount; the
/// flush records' windows never close.
fn chaos_model(records: &[(i32, String)]) -> Vec<String> {
    let mut windows: BTreeMap<(String, i64), (u64, f64, f64)> = BTreeMap::new();
    for (_, value) in records {
        let v: Value = serde_json::from_str(value).unwrap();
        let card = v["card"].as_str().unwrap();
        if card == "flush" {
            continue;
        }
        let ts = v["ts"].as_i64().unwrap();
        let amount = v["amount"].as_f64().unwrap();
        let start = ts.div_euclid(10_000) * 10_000;
        let entry = windows.entry((card.to_string(), start)).or_insert((
            0,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ));
        entry.0 += 1;
        entry.1 = entry.1.min(amount);
        entry.2 = entry.2.max(amount);
    }
    let mut results: Vec<String> = windows
        .into_iter()
        .map(|((card, start), (count, min, max))| window_line(&card, start, count, min, max))
        .collect();
    results.sort();
    results
}

/// The committed lines of `out.jsonl` in `dir`, sorted.
fn committed_lines(dir: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("out.jsonl")).unwrap_or_default();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

fn killed_at_random_moments(broker: &Broker) {
    let (seed, mut rng) = Rng::seeded("WEIR_KAFKA_CHAOS_SEED", "kafka chaos");
    broker.topic("chaos-in", CHAOS_PARTITIONS as u32);
    let scratch = Scratch::new();
    // Static membership: a restarted process takes the killed one's place
    // in the group at once, instead of waiting out its session. The
    // source's watermark counts only partitions it has had records from,
    // and a start at the earliest offset can read one partition's backlog
    // before the others' start offsets are looked up: small fetches
    // interleave the partitions finely, and a bound of 300 s (30 000
    // payments) keeps such a head start from making records late. Windows
    // then stay open across many kills.
    let pipeline = format!(
        r#"[pipeline]
name = "kchaos"
parallelism = 2
batch_size = 256

[checkpoints]
interval_ms = 100
keep = 2
{}properties = {{ "group.instance.id" = "kchaos-0", "max.partition.fetch.bytes" = 4096 }}

[key_by]
field = "card"

[event_time]
field = "ts"
max_out_of_orderness_ms = 300000

[[stage]]
name = "windows"
window = {{ type = "tumbling", size_ms = 10000 }}
aggregates = [
  {{ function = "count" }},
  {{ function = "min", field = "amount", name = "min" }},
  {{ function = "max", field = "amount", name = "max" }},
]

[[sink]]
name = "out"
type = "file"
path = "out.jsonl"
"#,
        kafka_source(broker, "chaos-in", "kchaos"),
    );
    scratch.write("pipeline.toml", &pipeline);
    let records = chaos_records();
    let expected = chaos_model(&records);

    // The payments are produced while weir runs and is killed.
    let started = Instant::now();
    let bootstrap = broker.bootstrap.clone();
    let producer = std::thread::spawn(move || {
        let outgoing: Vec<Outgoing<'_>> = records
            .iter()
            .map(|(partition, value)| Outgoing {
                partition: Some(*partition),
                ..Outgoing::value(value.as_bytes())
            })
            .collect();
        produce_paced(&bootstrap, "chaos-in", &outgoing, Some(CHAOS_RATE));
    });
    let mut kills = 0;
    let mut runs = 0;
    while kills < 20 || !producer.is_finished() {
        let weir = WeirProcess::start(scratch.path(), "pipeline.toml", &format!("run-{runs}"));
        runs += 1;
        std::thread::sleep(Duration::from_millis(300 + rng.below(700)));
        let stderr = weir.stderr();
        assert!(weir.kill(), "weir ended by itself: {stderr}");
        kills += 1;
    }
    producer.join().unwrap();
    let killed_after = started.elapsed();
    let committed_then = committed_lines(scratch.path()).len();

    // The last run reads the rest, then stops (taking a last checkpoint).
    let weir = WeirProcess::start(scratch.path(), "pipeline.toml", "last");
    assert!(
        weir.wait_for_log("kafka partitions assigned", OUTPUT_WAIT),
        "{}",
        weir.stderr()
    );
    let deadline = Instant::now() + OUTPUT_WAIT;
    while committed_lines(scratch.path()).len() < expected.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let stderr = weir.stop();
    assert!(
        stderr.contains("kafka source resumes from the checkpoint's offsets"),
        "{stderr}"
    );
    println!(
        "kafka chaos: {kills} kills over {:.1} s ({} of {} windows committed by then), \
         finished after {:.1} s",
        killed_after.as_secs_f64(),
        committed_then,
        expected.len(),
        started.elapsed().as_secs_f64()
    );

    let results = committed_lines(scratch.path());
    if results != expected {
        let got: BTreeSet<&String> = results.iter().collect();
        let want: BTreeSet<&String> = expected.iter().collect();
        let missing: Vec<_> = want.difference(&got).take(5).collect();
        let extra: Vec<_> = got.difference(&want).take(5).collect();
        panic!(
            "seed {seed}: {} results, {} expected; missing {missing:?}; unexpected {extra:?}; \
             duplicates: {}",
            results.len(),
            expected.len(),
            results.len() - got.len()
        );
    }
    for file in ["dead-letters.jsonl", "late-events.jsonl"] {
        assert_eq!(scratch.lines(file), Vec::<String>::new(), "{file}");
    }
}
