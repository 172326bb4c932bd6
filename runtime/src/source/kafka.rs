//! The Kafka source: a consumer in a consumer group, through librdkafka.
//!
//! One consumer per source reads every partition the group assigns to this
//! process; the router spreads them over the workers and keeps a watermark
//! per partition. A record's key, value, headers and timestamp become the
//! event's; its topic, partition and offset the event's position.
//!
//! # At least once
//!
//! Offsets are never committed automatically. After each batch of records
//! the source sends a progress marker behind them ([`Emit::mark`]); the
//! sink thread acknowledges it once everything before it has been through
//! the stages and written and flushed by every sink, dead letters included.
//! Only then may the offsets the marker covers be committed, every
//! `commit_interval` and when the source stops. So a crash at any moment
//! loses nothing: what was not committed is read again, by this process
//! when it restarts or by another member of the group.
//!
//! Without `[checkpoints]`, events held in window state count as passed
//! on, so their offsets are committed while the windows are open and only
//! in memory; a crash before those windows fire loses them. Checkpoints
//! close this.
//!
//! # Checkpoints
//!
//! In a pipeline with `[checkpoints]` the checkpoint's offsets, not the
//! group's, are where a restart resumes. Between two records passed on
//! (and while it polls with nothing to pass on) the source places a
//! waiting barrier at [`Position::Kafka`]: for every assigned partition,
//! the offset after the last record it passed on, or where the partition
//! was started when that is known (a resumed offset) and nothing was
//! passed on from it yet. Records fetched but not yet passed on lie after
//! the barrier. It reports the same position once when it returns.
//!
//! A restored source starts each partition the checkpoint names at
//! exactly its offset when the partition is first assigned, whatever the
//! group committed. A partition the checkpoint does not name had nothing
//! of it in the checkpoint, so the group's committed offset (which may have
//! moved past records the checkpoint does not hold) is ignored for it too:
//! it starts by `start` (`"earliest"`, `"latest"`, a timestamp; only
//! `"committed"` uses the group's offset). Acknowledged offsets are still
//! committed to the group, for monitoring and lag; they are never read
//! back while a checkpoint exists.
//!
//! A checkpointed pipeline must be the group's only member: a rebalance
//! that moves partitions to another process is not supported (the other
//! process has no checkpoint of them, and this one's next checkpoint
//! leaves them out), and the source warns when partitions are revoked.
//!
//! A first run of a checkpointed pipeline (no checkpoint yet) starts
//! every partition by `start` too, not at the group's committed offsets:
//! those may cover records whose results no checkpoint committed.
//!
//! # Rebalances
//!
//! When the group takes partitions away, the source (inside the rebalance
//! callback, before librdkafka lets them go) waits until every record it
//! passed on from them is acknowledged and commits their offsets
//! synchronously. Records it had fetched but not yet passed on are dropped:
//! the new owner starts at the committed offset, so nothing is lost and
//! nothing is handled twice. A partition whose assignment was lost (this
//! process was thrown out of the group) is not committed; its new owner
//! reads what was not committed, again.
//!
//! # Backpressure
//!
//! While the workers are behind ([`Emit::congested`], looked at before
//! each event is passed on) the source reads nothing more, after marking
//! what it passed on so far. A short wait only sleeps (librdkafka's
//! prefetching stops at `queued.max.messages.kbytes`); past a second the
//! source pauses every assigned partition and polls while it waits, so
//! that the group does not take it for dead, and resumes them once the
//! workers have caught up.
//! (Pausing at once would cost a fetch round trip at every resume, which
//! under steady load is most of the time.)

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;

use super::{Acks, Emit, KafkaOffset, OutputsClosed, Position, Source, SourceError, Stopped};
use crate::config::{KafkaSourceConfig, KafkaStart, KafkaTopics};
use crate::event::{Event, SourcePosition};
use crate::kafka::{ClientLog, client_config, log_line, report_error};
use crate::metrics::Metrics;

/// Most records passed on between two markers.
const GATHER_MAX: usize = 2048;
/// How long a partly gathered batch waits for more records.
const GATHER_LINGER: Duration = Duration::from_millis(5);
/// How long one poll waits when nothing is gathered yet; also how often a
/// paused or idle source looks at the pipeline's state.
const POLL_WAIT: Duration = Duration::from_millis(100);
/// How long the workers may be behind before the partitions are paused.
const PAUSE_AFTER: Duration = Duration::from_secs(1);
/// How long a source whose workers are behind sleeps between looks.
const CONGESTED_SLEEP: Duration = Duration::from_millis(1);
/// How long a rebalance or the end of the run waits for the records passed
/// on to be written before committing what is written.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);
/// Timeout of the broker requests made during a rebalance.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A topic and partition.
type Partition = (Arc<str>, i32);

/// Reads the topics of a `kafka` source.
pub struct KafkaSource {
    name: Arc<str>,
    consumer: BaseConsumer<Context>,
    commit_interval: Duration,
    /// Interned topic names, so each event's position shares one.
    topics: HashMap<String, Arc<str>>,
    /// The offset of the last record passed on since the last marker, per
    /// run of one partition; recorded when the marker is sent (rebalances
    /// happen only inside polls, and the source marks before it polls).
    unmarked: Vec<(Partition, i64)>,
}

impl KafkaSource {
    /// Makes the consumer and subscribes; connecting happens in the
    /// background (and is retried while the brokers are down). `start` is
    /// where a restored checkpoint left each partition (see the module
    /// docs, "Checkpoints").
    ///
    /// # Errors
    ///
    /// [`SourceError::Kafka`] when librdkafka refuses the settings or the
    /// subscription.
    pub fn new(
        name: &str,
        config: &KafkaSourceConfig,
        metrics: Arc<Metrics>,
        start: Option<Vec<KafkaOffset>>,
    ) -> Result<Self, SourceError> {
        let error = |message: String| SourceError::Kafka {
            source_name: name.to_string(),
            message,
        };
        let reset = match config.start {
            KafkaStart::Committed => "error",
            KafkaStart::Latest => "latest",
            // A timestamp whose lookup fails starts at the earliest: reading
            // again is better than skipping.
            KafkaStart::Earliest | KafkaStart::Timestamp(_) => "earliest",
        };
        let settings = [
            ("group.id", config.group.as_str()),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("auto.offset.reset", reset),
            ("enable.partition.eof", "false"),
        ];
        let resume = start.map(|offsets| {
            offsets
                .into_iter()
                .map(|o| ((o.topic, o.partition), o.next))
                .collect::<HashMap<Partition, i64>>()
        });
        if let Some(resume) = &resume {
            tracing::info!(
                source = name,
                partitions = resume.len(),
                "kafka source resumes from the checkpoint's offsets"
            );
        }
        let context = Context {
            log: ClientLog {
                client: name.into(),
                metrics,
            },
            start: config.start,
            state: Mutex::new(State {
                resume,
                ..State::default()
            }),
        };
        let consumer: BaseConsumer<Context> =
            client_config(&config.brokers, &config.properties, &settings)
                .create_with_context(context)
                .map_err(|e| error(format!("cannot make a kafka consumer: {e}")))?;
        let subscription: Vec<&str> = match &config.topics {
            KafkaTopics::Names(names) => names.iter().map(String::as_str).collect(),
            KafkaTopics::Pattern(pattern) => vec![pattern.as_str()],
        };
        consumer
            .subscribe(&subscription)
            .map_err(|e| error(format!("cannot subscribe to {subscription:?}: {e}")))?;
        tracing::info!(
            source = name,
            brokers = %config.brokers,
            group = %config.group,
            topics = ?subscription,
            "kafka source subscribed"
        );
        Ok(KafkaSource {
            name: name.into(),
            consumer,
            commit_interval: config.commit_interval,
            topics: HashMap::new(),
            unmarked: Vec::new(),
        })
    }

    fn context(&self) -> &Context {
        self.consumer.context()
    }

    fn error(&self, message: String) -> SourceError {
        SourceError::Kafka {
            source_name: self.name.to_string(),
            message,
        }
    }

    /// Polls until `GATHER_MAX` records, `GATHER_LINGER` after the first,
    /// or one `POLL_WAIT` without any. Rebalances happen inside polls;
    /// records of partitions taken away meanwhile are dropped from `batch`.
    fn gather(&mut self, batch: &mut Vec<Event>) -> Result<(), SourceError> {
        let mut deadline: Option<Instant> = None;
        let mut wait = POLL_WAIT;
        loop {
            let polled = self.consumer.poll(wait);
            let revoked = self.context().lock().take_revoked();
            if !revoked.is_empty() {
                batch.retain(|e| !revoked.contains(&partition_of(e)));
            }
            match polled {
                None => {
                    // Nothing came within `wait`.
                    let Some(at) = deadline else {
                        return Ok(());
                    };
                    wait = at.saturating_duration_since(Instant::now());
                    if wait.is_zero() {
                        return Ok(());
                    }
                }
                Some(Ok(message)) => {
                    let event = to_event(&self.name, &mut self.topics, &message);
                    batch.push(event);
                    if batch.len() >= GATHER_MAX {
                        return Ok(());
                    }
                    // Take what librdkafka already holds without waiting;
                    // the clock only every few records (per record, it
                    // shows in profiles).
                    wait = Duration::ZERO;
                    match deadline {
                        None => deadline = Some(Instant::now() + GATHER_LINGER),
                        Some(at) if batch.len().is_multiple_of(64) && Instant::now() >= at => {
                            return Ok(());
                        }
                        Some(_) => {}
                    }
                }
                Some(Err(error)) => self.consume_error(error)?,
            }
        }
    }

    /// An error `poll` returned: fatal when a partition has no committed
    /// offset under `start = "committed"`, else reported and retried.
    fn consume_error(&self, error: KafkaError) -> Result<(), SourceError> {
        if let KafkaError::MessageConsumption(RDKafkaErrorCode::AutoOffsetReset) = error {
            return Err(self.error(format!(
                "a partition has no committed offset for the group, and `start = \
                 \"committed\"` allows no other start: {error}"
            )));
        }
        report_error(&self.name, &self.context().log.metrics, &error, "consume");
        Ok(())
    }
}

/// The event for a record of source `source`; `topics` interns topic names.
fn to_event(
    source: &Arc<str>,
    topics: &mut HashMap<String, Arc<str>>,
    message: &BorrowedMessage<'_>,
) -> Event {
    {
        let topic = match topics.get(message.topic()) {
            Some(topic) => topic.clone(),
            None => {
                let topic: Arc<str> = message.topic().into();
                topics.insert(message.topic().to_string(), topic.clone());
                topic
            }
        };
        let headers = message.headers().map_or_else(Vec::new, |headers| {
            headers
                .iter()
                .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
                .collect()
        });
        Event {
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().unwrap_or_default().to_vec(),
            headers,
            time: message.timestamp().to_millis().unwrap_or_else(now_ms),
            position: SourcePosition {
                source: source.clone(),
                topic: Some(topic),
                partition: message.partition() as u32,
                offset: message.offset() as u64,
            },
            route_key: None,
        }
    }
}

impl KafkaSource {
    /// Commits what is acknowledged and not yet committed.
    fn commit(&self, acks: &Acks, mode: CommitMode) {
        let mut state = self.context().lock();
        state.offsets.acknowledged(acks.acked());
        let Some(list) = state.offsets.uncommitted() else {
            return;
        };
        match self.consumer.commit(&list, mode) {
            Ok(()) => {
                state.offsets.committed(&list);
                self.context().log.metrics.kafka_commit(&self.name);
                tracing::debug!(source = %self.name, offsets = list.count(), "offsets committed");
            }
            Err(error) => {
                report_error(&self.name, &self.context().log.metrics, &error, "commit");
            }
        }
    }

    /// Waits while the workers are behind. A short wait only sleeps:
    /// librdkafka keeps the group's heartbeats going and prefetches no more
    /// than `queued.max.messages.kbytes`. A longer one pauses every
    /// assigned partition and polls, so that the group does not take this
    /// process for dead and rebalances are served; records a poll still
    /// returns go to `batch`.
    fn wait_for_workers(
        &mut self,
        out: &mut dyn Emit,
        batch: &mut VecDeque<Event>,
    ) -> Result<(), SourceError> {
        let since = Instant::now();
        let mut paused_at = None;
        while out.congested() && !out.stopping() {
            if since.elapsed() < PAUSE_AFTER {
                std::thread::sleep(CONGESTED_SLEEP);
                continue;
            }
            let rebalances = self.context().lock().rebalances;
            if paused_at != Some(rebalances) {
                // Partitions assigned while paused are paused too.
                if paused_at.is_none() {
                    self.context().log.metrics.kafka_paused(&self.name);
                    tracing::info!(
                        source = %self.name,
                        behind_ms = since.elapsed().as_millis() as u64,
                        "workers behind: kafka partitions paused"
                    );
                }
                self.set_paused(true);
                paused_at = Some(rebalances);
            }
            let polled = self.consumer.poll(CONGESTED_SLEEP * 10);
            let revoked = self.context().lock().take_revoked();
            if !revoked.is_empty() {
                batch.retain(|e| !revoked.contains(&partition_of(e)));
            }
            match polled {
                Some(Ok(message)) => {
                    batch.push_back(to_event(&self.name, &mut self.topics, &message));
                }
                Some(Err(error)) => self.consume_error(error)?,
                None => {}
            }
        }
        if paused_at.is_some() {
            self.set_paused(false);
            tracing::info!(
                source = %self.name,
                behind_ms = since.elapsed().as_millis() as u64,
                "workers caught up: kafka partitions resumed"
            );
        }
        Ok(())
    }

    /// Pauses or resumes every assigned partition.
    fn set_paused(&self, paused: bool) {
        let assignment = match self.consumer.assignment() {
            Ok(assignment) => assignment,
            Err(error) => {
                report_error(
                    &self.name,
                    &self.context().log.metrics,
                    &error,
                    "assignment",
                );
                return;
            }
        };
        let result = if paused {
            self.consumer.pause(&assignment)
        } else {
            self.consumer.resume(&assignment)
        };
        if let Err(error) = result {
            report_error(&self.name, &self.context().log.metrics, &error, "pause");
        }
    }

    /// At the end of the run: waits for everything passed on to be
    /// written, then commits it.
    fn finish(&mut self, out: &mut dyn Emit, acks: &Acks) {
        // What was passed on since the last marker (a stop can come in the
        // middle of a batch) is covered by this one.
        self.mark(out);
        let token = self.context().lock().offsets.last_token;
        match acks.wait(token, DRAIN_TIMEOUT) {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                source = %self.name,
                "events passed on were not written in time; their offsets stay uncommitted"
            ),
            Err(OutputsClosed) => tracing::warn!(
                source = %self.name,
                "the outputs stopped; offsets of events not written stay uncommitted"
            ),
        }
        self.commit(acks, CommitMode::Sync);
        // Closing the consumer (when it is dropped) gives the partitions
        // back; what there is to commit is committed.
        self.context().lock().acks = None;
    }
}

impl Source for KafkaSource {
    fn run(&mut self, out: &mut dyn Emit) -> Result<(), SourceError> {
        let acks = out.acks();
        self.context().lock().acks = Some(acks.clone());
        let mut batch = Vec::with_capacity(GATHER_MAX);
        let mut last_commit = Instant::now();
        let result = loop {
            if out.stopping() {
                break Ok(());
            }
            if let Err(error) = self.gather(&mut batch) {
                break Err(error);
            }
            // Records just gathered are not passed on yet: they lie after
            // a barrier placed here.
            if self.barrier(out).is_err() {
                break Ok(());
            }
            if batch.is_empty() {
                if out.flush().is_err() {
                    break Ok(());
                }
            } else {
                match self.pass_on(out, &mut batch) {
                    Ok(true) => {}
                    Ok(false) => break Ok(()),
                    Err(error) => break Err(error),
                }
            }
            if last_commit.elapsed() >= self.commit_interval {
                self.commit(&acks, CommitMode::Async);
                last_commit = Instant::now();
            }
        };
        // Stopped or not, the position is recorded for the last checkpoint.
        let _ = out.at(self.position());
        self.finish(out, &acks);
        result
    }
}

impl KafkaSource {
    /// Emits `batch` and marks it; returns false once the pipeline stops.
    /// Before each event it looks whether the workers are behind, and if
    /// so marks what it emitted (so that a rebalance while it waits can
    /// commit it) and waits.
    fn pass_on(&mut self, out: &mut dyn Emit, batch: &mut Vec<Event>) -> Result<bool, SourceError> {
        let mut pending: VecDeque<Event> = batch.drain(..).collect();
        while let Some(event) = pending.pop_front() {
            if out.congested() {
                pending.push_front(event);
                if !self.unmarked.is_empty() && !self.mark(out) {
                    return Ok(false);
                }
                self.wait_for_workers(out, &mut pending)?;
                if out.stopping() {
                    return Ok(false);
                }
                continue;
            }
            let at = (
                event.position.partition as i32,
                event.position.offset as i64,
            );
            let topic = event.position.topic.clone();
            if out.emit(event).is_err() {
                return Ok(false);
            }
            // Runs of one partition are one entry; the topic is compared
            // by pointer, since every event of a topic shares its name.
            match self.unmarked.last_mut() {
                Some(((t, p), offset))
                    if *p == at.0 && topic.as_ref().is_some_and(|n| Arc::ptr_eq(n, t)) =>
                {
                    *offset = at.1;
                }
                _ => {
                    let topic = topic.unwrap_or_else(|| "".into());
                    self.unmarked.push(((topic, at.0), at.1));
                }
            }
            if self.barrier(out).is_err() {
                return Ok(false);
            }
        }
        Ok(self.unmarked.is_empty() || self.mark(out))
    }

    /// Places a waiting checkpoint barrier after the records passed on so
    /// far.
    fn barrier(&mut self, out: &mut dyn Emit) -> Result<(), Stopped> {
        if !out.barrier_due() {
            return Ok(());
        }
        self.context().lock().checkpointed = true;
        out.at(self.position())
    }

    /// The offset of the next record to pass on, per assigned partition
    /// where it is known.
    fn position(&self) -> Position {
        let mut next: HashMap<Partition, i64> = self.context().lock().next.clone();
        // Runs are in order, so a later one of a partition wins.
        for (partition, offset) in &self.unmarked {
            next.insert(partition.clone(), offset + 1);
        }
        let mut offsets: Vec<KafkaOffset> = next
            .into_iter()
            .map(|((topic, partition), next)| KafkaOffset {
                topic,
                partition,
                next,
            })
            .collect();
        offsets.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        Position::Kafka(offsets)
    }

    /// Records the offsets passed on since the last marker and sends a
    /// marker behind them; false once the pipeline stops.
    fn mark(&mut self, out: &mut dyn Emit) -> bool {
        let mut state = self.consumer.context().lock();
        for (partition, offset) in self.unmarked.drain(..) {
            state.next.insert(partition.clone(), offset + 1);
            state.offsets.emitted(partition, offset);
        }
        drop(state);
        match out.mark() {
            Ok(token) => {
                self.context().lock().offsets.marked(token);
                true
            }
            Err(Stopped) => false,
        }
    }
}

/// A Kafka event's topic and partition.
fn partition_of(event: &Event) -> Partition {
    let topic = event.position.topic.clone().unwrap_or_else(|| "".into());
    (topic, event.position.partition as i32)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The consumer's context: its log, and the rebalance callback.
struct Context {
    log: ClientLog,
    start: KafkaStart,
    state: Mutex<State>,
}

/// What the rebalance callback and the source share. Both run on the
/// source's thread (librdkafka calls back from inside `poll`); the mutex
/// only satisfies the context's `Sync` bound.
#[derive(Default)]
struct State {
    acks: Option<Arc<Acks>>,
    offsets: Offsets,
    /// Partitions taken away since the source last looked.
    revoked: HashSet<Partition>,
    /// Rebalances so far.
    rebalances: u64,
    /// A restored checkpoint's offsets not yet applied to an assignment;
    /// `None` when no checkpoint was restored.
    resume: Option<HashMap<Partition, i64>>,
    /// Partitions assigned so far in this run.
    seen: HashSet<Partition>,
    /// The offset of the next record to pass on, per assigned partition
    /// where it is known; updated at each marker.
    next: HashMap<Partition, i64>,
    /// The pipeline takes checkpoints (a barrier was placed or a checkpoint
    /// restored).
    checkpointed: bool,
}

impl State {
    fn take_revoked(&mut self) -> HashSet<Partition> {
        std::mem::take(&mut self.revoked)
    }
}

impl Context {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn client(&self) -> &str {
        &self.log.client
    }

    /// Partitions are being taken away: waits for what was passed on from
    /// them to be written, commits it, and forgets them.
    fn hand_over(&self, consumer: &BaseConsumer<Self>, list: &TopicPartitionList) {
        let partitions: Vec<Partition> = list
            .elements()
            .iter()
            .map(|e| (Arc::from(e.topic()), e.partition()))
            .collect();
        let lost = consumer.assignment_lost();
        let (acks, token) = {
            let state = self.lock();
            (state.acks.clone(), state.offsets.last_token)
        };
        if !lost && let Some(acks) = &acks {
            match acks.wait(token, DRAIN_TIMEOUT) {
                Ok(true) => {}
                Ok(false) | Err(OutputsClosed) => tracing::warn!(
                    source = self.client(),
                    "events passed on were not written before the partitions were revoked; \
                     their new owner reads them again"
                ),
            }
            let mut state = self.lock();
            state.offsets.acknowledged(acks.acked());
            if let Some(list) = state.offsets.uncommitted_of(&partitions) {
                match consumer.commit(&list, CommitMode::Sync) {
                    Ok(()) => {
                        state.offsets.committed(&list);
                        self.log.metrics.kafka_commit(self.client());
                    }
                    Err(error) => report_error(self.client(), &self.log.metrics, &error, "commit"),
                }
            }
        }
        let mut state = self.lock();
        state.offsets.forget(&partitions);
        for partition in &partitions {
            state.next.remove(partition);
        }
        state.revoked.extend(partitions);
        if state.checkpointed || state.resume.is_some() {
            tracing::warn!(
                source = self.client(),
                partitions = %describe(list),
                "kafka partitions revoked from a checkpointed pipeline; moving partitions \
                 between processes is not supported with checkpoints"
            );
        }
        tracing::info!(
            source = self.client(),
            partitions = %describe(list),
            lost,
            "kafka partitions revoked"
        );
    }

    /// Partitions are being assigned after a checkpoint was restored: the
    /// ones it names start at its offsets, and the others assigned for the
    /// first time by `start`, whatever the group committed (see the module
    /// docs). Returns the resumed partitions and those started by `start`
    /// (`fresh`).
    fn position_by_checkpoint(
        &self,
        list: &mut TopicPartitionList,
    ) -> (TopicPartitionList, Vec<Partition>) {
        let mut resumed = TopicPartitionList::new();
        let mut fresh = Vec::new();
        let mut state = self.lock();
        let State {
            resume, seen, next, ..
        } = &mut *state;
        let Some(resume) = resume else {
            return (resumed, fresh);
        };
        for element in list.elements() {
            let partition: Partition = (Arc::from(element.topic()), element.partition());
            let first = seen.insert(partition.clone());
            if let Some(offset) = resume.remove(&partition) {
                let _ = resumed.add_partition_offset(
                    element.topic(),
                    element.partition(),
                    Offset::Offset(offset),
                );
                next.insert(partition, offset);
            } else if first {
                fresh.push(partition);
            }
        }
        drop(state);
        for element in resumed.elements() {
            // The partition is in `list`: it came from there.
            let _ =
                list.set_partition_offset(element.topic(), element.partition(), element.offset());
        }
        let start = match self.start {
            KafkaStart::Earliest => Offset::Beginning,
            KafkaStart::Latest => Offset::End,
            // Looked up by time (`position_by_time`), or the group's.
            KafkaStart::Timestamp(_) | KafkaStart::Committed => return (resumed, fresh),
        };
        for (topic, partition) in &fresh {
            let _ = list.set_partition_offset(topic, *partition, start);
        }
        (resumed, fresh)
    }

    /// Partitions are being assigned: under `start = { timestamp_ms }`, the
    /// ones without a committed offset, and the `fresh` ones whatever they
    /// have, begin at that time; `resumed` ones are left as they are.
    fn position_by_time(
        &self,
        consumer: &BaseConsumer<Self>,
        list: &mut TopicPartitionList,
        resumed: &TopicPartitionList,
        fresh: &[Partition],
    ) {
        let KafkaStart::Timestamp(ms) = self.start else {
            return;
        };
        let lookup = || -> KafkaResult<TopicPartitionList> {
            let committed = consumer.committed_offsets(list.clone(), REQUEST_TIMEOUT)?;
            let mut times = TopicPartitionList::new();
            for element in committed.elements() {
                let (topic, partition) = (element.topic(), element.partition());
                if resumed.find_partition(topic, partition).is_some() {
                    continue;
                }
                let is_fresh = fresh.iter().any(|(t, p)| &**t == topic && *p == partition);
                if is_fresh || element.offset() == Offset::Invalid {
                    times.add_partition_offset(
                        element.topic(),
                        element.partition(),
                        Offset::Offset(ms),
                    )?;
                }
            }
            if times.count() == 0 {
                return Ok(times);
            }
            consumer.offsets_for_times(times, REQUEST_TIMEOUT)
        };
        match lookup() {
            Ok(found) => {
                for element in found.elements() {
                    let offset = match element.offset() {
                        Offset::Offset(o) => Offset::Offset(o),
                        _ => Offset::End,
                    };
                    // The partition is in `list`: it came from there.
                    let _ = list.set_partition_offset(element.topic(), element.partition(), offset);
                }
            }
            Err(error) => {
                report_error(self.client(), &self.log.metrics, &error, "offsets for time")
            }
        }
    }
}

impl rdkafka::client::ClientContext for Context {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, facility: &str, message: &str) {
        log_line(self.client(), level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        report_error(self.client(), &self.log.metrics, &error, reason);
    }
}

impl ConsumerContext for Context {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        list: &mut TopicPartitionList,
    ) {
        self.lock().rebalances += 1;
        self.log.metrics.kafka_rebalance(self.client());
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let (resumed, fresh) = self.position_by_checkpoint(list);
                self.position_by_time(consumer, list, &resumed, &fresh);
                tracing::info!(
                    source = self.client(),
                    partitions = %describe(list),
                    resumed = %describe_offsets(&resumed),
                    "kafka partitions assigned"
                );
                if cooperative {
                    consumer.incremental_assign(list)
                } else {
                    consumer.assign(list)
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                self.hand_over(consumer, list);
                if cooperative {
                    consumer.incremental_unassign(list)
                } else {
                    consumer.unassign()
                }
            }
            other => {
                let code: RDKafkaErrorCode = other.into();
                tracing::warn!(source = self.client(), error = %code, "kafka rebalance failed");
                consumer.unassign()
            }
        };
        if let Err(error) = result {
            report_error(self.client(), &self.log.metrics, &error, "rebalance");
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        if let Err(error) = result {
            // Committed again at the next interval.
            self.lock().offsets.uncommit(offsets);
            report_error(self.client(), &self.log.metrics, &error, "commit");
        }
    }
}

/// `topic[0@12,1@40]` for the log: partitions and their offsets.
fn describe_offsets(list: &TopicPartitionList) -> String {
    let mut parts: Vec<String> = list
        .elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => format!("{}[{}@{o}]", e.topic(), e.partition()),
            other => format!("{}[{}@{other:?}]", e.topic(), e.partition()),
        })
        .collect();
    parts.sort();
    parts.join(" ")
}

/// `topic[0,1,2]` for the log.
fn describe(list: &TopicPartitionList) -> String {
    let mut topics: Vec<(String, Vec<i32>)> = Vec::new();
    for element in list.elements() {
        match topics.iter_mut().find(|(t, _)| t == element.topic()) {
            Some((_, partitions)) => partitions.push(element.partition()),
            None => topics.push((element.topic().to_string(), vec![element.partition()])),
        }
    }
    topics
        .iter()
        .map(|(topic, partitions)| format!("{topic}{partitions:?}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Which offsets may be committed: the offset after the last record passed
/// on, per partition, as it stood at each marker, moved to `written` once
/// the marker is acknowledged.
#[derive(Default)]
struct Offsets {
    /// The offset after the last record passed on.
    emitted: HashMap<Partition, i64>,
    /// Markers not yet acknowledged, oldest first, with `emitted` as it
    /// stood when each was sent.
    marked: VecDeque<(u64, HashMap<Partition, i64>)>,
    /// The newest marker's token.
    last_token: u64,
    /// The offset after the last record written out.
    written: HashMap<Partition, i64>,
    /// What was last committed.
    committed: HashMap<Partition, i64>,
}

impl Offsets {
    fn emitted(&mut self, partition: Partition, offset: i64) {
        self.emitted.insert(partition, offset + 1);
    }

    fn marked(&mut self, token: u64) {
        self.last_token = token;
        self.marked.push_back((token, self.emitted.clone()));
    }

    fn acknowledged(&mut self, acked: u64) {
        while self
            .marked
            .front()
            .is_some_and(|(token, _)| *token <= acked)
        {
            if let Some((_, offsets)) = self.marked.pop_front() {
                self.written.extend(offsets);
            }
        }
    }

    /// Written offsets not committed yet, if any.
    fn uncommitted(&self) -> Option<TopicPartitionList> {
        self.list(|_| true)
    }

    /// Written offsets of `partitions` not committed yet, if any.
    fn uncommitted_of(&self, partitions: &[Partition]) -> Option<TopicPartitionList> {
        self.list(|p| partitions.contains(p))
    }

    fn list(&self, keep: impl Fn(&Partition) -> bool) -> Option<TopicPartitionList> {
        let mut list = TopicPartitionList::new();
        for (partition, offset) in &self.written {
            if keep(partition) && self.committed.get(partition) != Some(offset) {
                // Adding a partition with a valid offset cannot fail.
                let _ =
                    list.add_partition_offset(&partition.0, partition.1, Offset::Offset(*offset));
            }
        }
        (list.count() > 0).then_some(list)
    }

    fn committed(&mut self, list: &TopicPartitionList) {
        for element in list.elements() {
            if let Offset::Offset(offset) = element.offset() {
                self.committed
                    .insert((Arc::from(element.topic()), element.partition()), offset);
            }
        }
    }

    /// A commit of `list` failed: commit them again.
    fn uncommit(&mut self, list: &TopicPartitionList) {
        for element in list.elements() {
            self.committed
                .remove(&(Arc::from(element.topic()), element.partition()));
        }
    }

    fn forget(&mut self, partitions: &[Partition]) {
        for partition in partitions {
            self.emitted.remove(partition);
            self.written.remove(partition);
            self.committed.remove(partition);
            for (_, offsets) in &mut self.marked {
                offsets.remove(partition);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(topic: &str, partition: i32) -> Partition {
        (Arc::from(topic), partition)
    }

    fn offsets(list: Option<TopicPartitionList>) -> Vec<(String, i32, i64)> {
        let mut out: Vec<(String, i32, i64)> = list
            .map(|l| {
                l.elements()
                    .iter()
                    .map(|e| match e.offset() {
                        Offset::Offset(o) => (e.topic().to_string(), e.partition(), o),
                        other => panic!("unexpected offset {other:?}"),
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    #[test]
    fn only_acknowledged_markers_are_committed() {
        let mut o = Offsets::default();
        o.emitted(p("t", 0), 9);
        o.emitted(p("t", 1), 4);
        o.marked(1);
        o.emitted(p("t", 0), 19);
        o.marked(2);
        assert_eq!(offsets(o.uncommitted()), []);

        o.acknowledged(1);
        let list = o.uncommitted();
        assert_eq!(
            offsets(o.uncommitted()),
            [("t".into(), 0, 10), ("t".into(), 1, 5)]
        );
        o.committed(list.as_ref().unwrap());
        assert_eq!(offsets(o.uncommitted()), []);

        o.acknowledged(2);
        assert_eq!(offsets(o.uncommitted()), [("t".into(), 0, 20)]);
    }

    #[test]
    fn a_failed_commit_is_made_again_and_revoked_partitions_are_forgotten() {
        let mut o = Offsets::default();
        o.emitted(p("t", 0), 9);
        o.emitted(p("u", 3), 1);
        o.marked(1);
        o.acknowledged(1);
        let list = o.uncommitted().unwrap();
        o.committed(&list);
        o.uncommit(&list);
        assert_eq!(
            offsets(o.uncommitted_of(&[p("u", 3)])),
            [("u".into(), 3, 2)]
        );

        o.emitted(p("t", 0), 29);
        o.marked(2);
        o.forget(&[p("t", 0)]);
        o.acknowledged(2);
        assert_eq!(offsets(o.uncommitted()), [("u".into(), 3, 2)]);
    }
}
