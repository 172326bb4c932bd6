//! A real Apache Kafka broker for tests, started with the project's
//! `scripts/kafka/broker.sh`, and plain librdkafka clients to feed topics
//! and read them back.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::{root, weir_binary};

/// How long a test waits for a broker request.
const REQUEST: Duration = Duration::from_secs(30);

/// A broker of its own for one test process, on free loopback ports, with
/// its data in a fresh directory; stopped (and its data deleted) on drop.
pub struct Broker {
    run_dir: PathBuf,
    /// `127.0.0.1:<port>`.
    pub bootstrap: String,
}

impl Broker {
    /// Starts a broker whose run directory is named after `name`.
    pub fn start(name: &str) -> Broker {
        // Under target/<profile>/, beside the test executables' deps/.
        let exe = std::env::current_exe().expect("test executable path");
        let profile = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>/deps");
        let run_dir = profile.join(format!("kafka-{name}"));
        let mut broker = Broker {
            run_dir,
            bootstrap: String::new(),
        };
        // A broker left behind by an earlier run that was killed.
        let _ = broker.script(&["stop"]);
        broker.bootstrap = broker.script(&["start"]);
        broker
    }

    /// Creates `topic` with `partitions` partitions.
    pub fn topic(&self, topic: &str, partitions: u32) {
        self.script(&["topic", topic, &partitions.to_string()]);
    }

    /// Creates `topic` with `partitions` partitions whose records the broker
    /// stamps with the time it appended them.
    pub fn append_time_topic(&self, topic: &str, partitions: u32) {
        self.script(&[
            "topic",
            topic,
            &partitions.to_string(),
            "--config",
            "message.timestamp.type=LogAppendTime",
        ]);
    }

    /// Kills the broker (SIGTERM) and starts it again on the same ports
    /// with the same data.
    pub fn restart(&self) {
        let bootstrap = self.script(&["restart"]);
        assert_eq!(bootstrap, self.bootstrap, "the broker came back elsewhere");
    }

    /// Stops the broker but keeps its data, until [`Broker::resume`].
    pub fn pause(&self) {
        self.script(&["kill"]);
    }

    /// Starts a broker stopped by [`Broker::pause`].
    pub fn resume(&self) {
        let bootstrap = self.script(&["start"]);
        assert_eq!(bootstrap, self.bootstrap, "the broker came back elsewhere");
    }

    fn script(&self, args: &[&str]) -> String {
        let output = Command::new(root().join("scripts/kafka/broker.sh"))
            .args(args)
            .env("WEIR_KAFKA_RUN", &self.run_dir)
            .stderr(Stdio::inherit())
            .output()
            .expect("cannot run scripts/kafka/broker.sh");
        assert!(
            output.status.success() || args == ["stop"],
            "broker.sh {args:?} failed; see {}",
            self.run_dir.join("broker.log").display()
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.script(&["stop"]);
    }
}

/// A record to produce.
pub struct Outgoing<'a> {
    /// The partition, or `None` for the default partitioner.
    pub partition: Option<i32>,
    pub key: Option<&'a [u8]>,
    pub value: &'a [u8],
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The record's timestamp (ms since the epoch); `None` for now.
    pub timestamp: Option<i64>,
}

impl<'a> Outgoing<'a> {
    /// A record with only a value, partitioned by librdkafka.
    pub fn value(value: &'a [u8]) -> Self {
        Outgoing {
            partition: None,
            key: None,
            value,
            headers: &[],
            timestamp: None,
        }
    }
}

/// Where a record landed (partition, offset), or why it did not.
type Report = Result<(i32, i64), String>;

/// Delivery reports by the index of the record.
#[derive(Default)]
struct Reports(Mutex<HashMap<usize, Report>>);

impl rdkafka::client::ClientContext for Reports {}

impl ProducerContext for Reports {
    type DeliveryOpaque = Box<usize>;

    fn delivery(&self, result: &DeliveryResult<'_>, index: Box<usize>) {
        let report = match result {
            Ok(message) => Ok((message.partition(), message.offset())),
            Err((error, _)) => Err(error.to_string()),
        };
        self.0.lock().unwrap().insert(*index, report);
    }
}

/// Produces `records` to `topic` and waits for every delivery; returns each
/// record's partition and offset.
pub fn produce(bootstrap: &str, topic: &str, records: &[Outgoing<'_>]) -> Vec<(i32, i64)> {
    produce_paced(bootstrap, topic, records, None)
}

/// [`produce`] at most `per_second` records a second (all at once for
/// `None`), so that a pipeline reading them runs for a while.
pub fn produce_paced(
    bootstrap: &str,
    topic: &str,
    records: &[Outgoing<'_>],
    per_second: Option<u64>,
) -> Vec<(i32, i64)> {
    let started = Instant::now();
    let producer: BaseProducer<Reports> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create_with_context(Reports::default())
        .expect("test producer");
    for (i, record) in records.iter().enumerate() {
        let mut headers = OwnedHeaders::new();
        for (name, value) in record.headers {
            headers = headers.insert(Header {
                key: name,
                value: Some(*value),
            });
        }
        let mut out = BaseRecord::with_opaque_to(topic, Box::new(i))
            .payload(record.value)
            .headers(headers);
        if let Some(key) = record.key {
            out = out.key(key);
        }
        if let Some(partition) = record.partition {
            out = out.partition(partition);
        }
        if let Some(timestamp) = record.timestamp {
            out = out.timestamp(timestamp);
        }
        if let Some(rate) = per_second {
            // Every 100 records, wait until they are due.
            if i % 100 == 0 {
                let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                producer.poll(Duration::ZERO);
            }
        }
        loop {
            match producer.send(out) {
                Ok(()) => break,
                Err((_, back)) => {
                    out = back;
                    producer.poll(Duration::from_millis(50));
                }
            }
        }
    }
    producer.flush(REQUEST).expect("test records delivered");
    let reports = producer.context().0.lock().unwrap();
    (0..records.len())
        .map(|i| match reports.get(&i) {
            Some(Ok(at)) => *at,
            Some(Err(error)) => panic!("test record {i} not delivered: {error}"),
            None => panic!("no delivery report for test record {i}"),
        })
        .collect()
}

/// A record read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incoming {
    pub partition: i32,
    pub offset: i64,
    /// The record's timestamp (ms since the epoch), if it has one.
    pub timestamp: Option<i64>,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Incoming {
    /// The value as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.value).into_owned()
    }

    /// The value of header `name` as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }
}

fn reader(bootstrap: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "weir-tests-reader")
        .set("enable.auto.commit", "false")
        .create()
        .expect("test consumer")
}

/// The number of records in `topic` (the sum of its partitions' end
/// offsets; test topics are never compacted or truncated).
pub fn count(bootstrap: &str, topic: &str) -> u64 {
    let consumer = reader(bootstrap);
    let metadata = consumer
        .fetch_metadata(Some(topic), REQUEST)
        .expect("topic metadata");
    let mut total = 0;
    for partition in metadata.topics()[0].partitions() {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition.id(), REQUEST)
            .expect("watermarks");
        total += (high - low) as u64;
    }
    total
}

/// Waits up to `timeout` until `topic` holds at least `n` records; returns
/// how many it holds.
pub fn wait_for(bootstrap: &str, topic: &str, n: u64, timeout: Duration) -> u64 {
    let deadline = Instant::now() + timeout;
    loop {
        let have = count(bootstrap, topic);
        if have >= n || Instant::now() >= deadline {
            return have;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every record in `topic` now, partition by partition, in offset order.
pub fn read_all(bootstrap: &str, topic: &str) -> Vec<Incoming> {
    let consumer = reader(bootstrap);
    let metadata = consumer
        .fetch_metadata(Some(topic), REQUEST)
        .expect("topic metadata");
    let mut list = TopicPartitionList::new();
    let mut ends = HashMap::new();
    for partition in metadata.topics()[0].partitions() {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition.id(), REQUEST)
            .expect("watermarks");
        if high > low {
            ends.insert(partition.id(), high);
            list.add_partition_offset(topic, partition.id(), Offset::Offset(low))
                .unwrap();
        }
    }
    let total: i64 = ends.values().sum();
    let mut records = Vec::new();
    if list.count() == 0 {
        return records;
    }
    consumer.assign(&list).expect("assign");
    let deadline = Instant::now() + REQUEST;
    while (records.len() as i64) < total {
        assert!(Instant::now() < deadline, "cannot read `{topic}` back");
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message.expect("test consumer error");
        if message.offset() >= ends[&message.partition()] {
            continue;
        }
        records.push(Incoming {
            partition: message.partition(),
            offset: message.offset(),
            timestamp: message.timestamp().to_millis(),
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().unwrap_or_default().to_vec(),
            headers: message.headers().map_or_else(Vec::new, |headers| {
                headers
                    .iter()
                    .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
                    .collect()
            }),
        });
    }
    records.sort_by_key(|r| (r.partition, r.offset));
    records
}

/// The offsets `group` has committed for `topic`, by partition (`None`
/// where it has none).
pub fn committed(bootstrap: &str, group: &str, topic: &str) -> Vec<Option<i64>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("test consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), REQUEST)
        .expect("topic metadata");
    let mut list = TopicPartitionList::new();
    for partition in metadata.topics()[0].partitions() {
        list.add_partition(topic, partition.id());
    }
    let committed = consumer
        .committed_offsets(list, REQUEST)
        .expect("committed offsets");
    let mut out: Vec<(i32, Option<i64>)> = committed
        .elements()
        .iter()
        .map(|e| {
            let offset = match e.offset() {
                Offset::Offset(o) => Some(o),
                _ => None,
            };
            (e.partition(), offset)
        })
        .collect();
    out.sort();
    out.into_iter().map(|(_, o)| o).collect()
}

/// A `weir run` process, its output going to files in `dir`.
pub struct WeirProcess {
    child: Child,
    dir: PathBuf,
    label: String,
}

impl WeirProcess {
    /// Starts `weir run <pipeline>` in `dir`; `label` names its output files.
    pub fn start(dir: &Path, pipeline: &str, label: &str) -> WeirProcess {
        Self::start_with(dir, pipeline, label, &[])
    }

    /// [`WeirProcess::start`] with more arguments for `weir run`.
    pub fn start_with(dir: &Path, pipeline: &str, label: &str, args: &[&str]) -> WeirProcess {
        let stdout = std::fs::File::create(dir.join(format!("{label}.stdout"))).unwrap();
        let stderr = std::fs::File::create(dir.join(format!("{label}.stderr"))).unwrap();
        let child = Command::new(weir_binary())
            .args(["run", pipeline])
            .args(args)
            .current_dir(dir)
            .env("WEIR_LOG", "weir=info")
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("weir starts");
        WeirProcess {
            child,
            dir: dir.to_owned(),
            label: label.to_string(),
        }
    }

    /// What the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("{}.stderr", self.label))).unwrap_or_default()
    }

    /// Waits up to `timeout` for `text` to appear on stderr.
    pub fn wait_for_log(&self, text: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.stderr().contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Waits up to `timeout` for it to exit by itself; returns whether it
    /// succeeded, and its stderr. Panics if it is still running.
    pub fn wait(mut self, timeout: Duration) -> (bool, String) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.success(), self.stderr());
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("weir {} did not exit: {}", self.label, self.stderr());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills it with SIGKILL, as a crash would; returns whether it was
    /// still running.
    pub fn kill(mut self) -> bool {
        let running = matches!(self.child.try_wait(), Ok(None));
        let _ = self.child.kill();
        let _ = self.child.wait();
        running
    }

    /// Stops it as Ctrl-C does and waits for it to drain and exit; returns
    /// its stderr. Panics if it fails or does not exit within a minute.
    pub fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let stderr = self.stderr();
                assert!(status.success(), "weir {} failed: {stderr}", self.label);
                return stderr;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("weir {} did not stop: {}", self.label, self.stderr());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for WeirProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The number after `label` in weir's summary line
/// (`<pipeline>: read N events, wrote M, …`).
pub fn summary_number(stderr: &str, label: &str) -> u64 {
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.contains(": read ") && l.contains(" events, wrote "))
        .unwrap_or_else(|| panic!("no summary line in: {stderr}"));
    let after = line
        .split(label)
        .nth(1)
        .unwrap_or_else(|| panic!("no `{label}` in `{line}`"));
    after
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after `{label}` in `{line}`"))
}
