//! Tests of the checkpoint store and the manifest, on real files (and a
//! real RocksDB) in temporary directories.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use prost::Message as _;
use prost::encoding::{self, WireType};
use tempfile::TempDir;

use super::manifest::{decode_file, encode_file};
use super::store::restore_tree;
use super::*;
use crate::state::StateStore;

// ---------------------------------------------------------------------------
// Helpers

/// A store in a fresh temporary directory, keeping `keep` checkpoints.
fn store(keep: usize) -> (TempDir, Checkpoints) {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let store = Checkpoints::open(&tmp.path().join("checkpoints"), keep).expect("open the store");
    (tmp, store)
}

fn topology() -> Topology {
    Topology {
        pipeline: "fraud".into(),
        key_groups: 128,
        parallelism: 2,
        stages: vec![
            Stage {
                name: "mask".into(),
                kind: "plugin".into(),
                plugin: "sha256:0f1e".into(),
                state_fingerprint: String::new(),
            },
            Stage {
                name: "velocity".into(),
                kind: "window".into(),
                plugin: "sha256:a1b2".into(),
                state_fingerprint: "tumbling 60000".into(),
            },
        ],
    }
}

/// A manifest of checkpoint `id` with no state and a fixed time.
fn manifest(id: u64) -> Manifest {
    Manifest {
        created_unix_ms: 1_700_000_000_000,
        ..Manifest::new(id, topology())
    }
}

/// A manifest of checkpoint `id` with every field set to a value that is
/// not its default (so that every field is encoded), and every variant of
/// each oneof.
fn full_manifest(id: u64) -> Manifest {
    Manifest {
        format: FORMAT,
        id,
        created_unix_ms: 1_700_000_000_123,
        savepoint: true,
        topology: Some(topology()),
        sources: vec![
            SourcePartition {
                source: "payments".into(),
                partition: 1,
                watermark: 1_699_999_999_000,
                position: Some(Position::Generator(GeneratorPosition { emitted: 4242 })),
            },
            SourcePartition {
                source: "file".into(),
                partition: 2,
                watermark: i64::MIN,
                position: Some(Position::File(FilePosition {
                    offset: 98_765,
                    line: 321,
                })),
            },
            SourcePartition {
                source: "kafka".into(),
                partition: 3,
                watermark: -5,
                position: Some(Position::Kafka(KafkaPosition {
                    offsets: vec![
                        KafkaOffset {
                            topic: "payments".into(),
                            partition: 7,
                            next: 1_000_001,
                            watermark: 1_699_999_998_000,
                        },
                        KafkaOffset {
                            topic: "refunds".into(),
                            partition: -1,
                            next: 9,
                            watermark: i64::MIN,
                        },
                    ],
                })),
            },
        ],
        sinks: vec![
            SinkCommit {
                sink: "alerts".into(),
                pending: Some(PendingCommit::File(FileCommit {
                    staged: "out/alerts.jsonl.part-7".into(),
                    visible_len: 4096,
                    staged_len: 512,
                })),
            },
            SinkCommit {
                sink: "scores".into(),
                pending: Some(PendingCommit::Kafka(KafkaCommit {
                    transactional_id: "weir-fraud-scores-0".into(),
                })),
            },
        ],
        operators: vec![OperatorState {
            stage: 1,
            first_key_group: 64,
            end_key_group: 128,
            watermark: 1_699_999_997_000,
            seq: 17,
        }],
        has_state: true,
    }
}

/// Writes a stand-in for the two workers' RocksDB checkpoints: what the
/// store checks for.
fn fake_state(dir: &Path) {
    for worker in ["worker-0", "worker-1"] {
        fs::create_dir_all(dir.join(worker)).unwrap();
        fs::write(dir.join(worker).join("CURRENT"), "MANIFEST-000005\n").unwrap();
    }
}

/// Takes checkpoint `id` with `manifest`, with a stand-in state if the
/// manifest says it has state.
fn take(store: &Checkpoints, manifest: &Manifest) -> Found {
    let pending = store.begin(manifest.id).unwrap();
    if manifest.has_state {
        fake_state(&pending.state_dir());
    }
    pending.complete(manifest).unwrap()
}

fn chk(store: &Checkpoints, id: u64) -> PathBuf {
    store.root().join(format!("chk-{id:020}"))
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Every file under `dir` with its content, by relative path.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, files);
            } else {
                let relative = path.strip_prefix(base).unwrap().to_path_buf();
                files.insert(relative, fs::read(&path).unwrap());
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, dir, &mut files);
    files
}

/// The ids and errors of `latest`'s skipped checkpoints, as text.
fn skipped(latest: &Latest) -> Vec<(u64, String)> {
    latest
        .skipped
        .iter()
        .map(|(id, error)| (*id, error.to_string()))
        .collect()
}

/// What `f` logged at WARN and above, as formatted text.
fn logs<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .without_time()
        .with_max_level(tracing::Level::WARN)
        .finish();
    let value = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    (value, text)
}

// ---------------------------------------------------------------------------
// The store

#[test]
fn round_trip_restores_state_and_leaves_the_checkpoint_alone() {
    let (tmp, store) = store(2);
    let db = StateStore::open(&tmp.path().join("db")).unwrap();
    db.stage(0, 0..1).put(0, b"key", b"one").unwrap();

    let pending = store.begin(1).unwrap();
    assert_eq!(pending.id(), 1);
    assert!(!pending.state_dir().exists());
    fs::create_dir(pending.state_dir()).unwrap();
    for worker in ["worker-0", "worker-1"] {
        db.checkpoint(&pending.state_dir().join(worker)).unwrap();
    }
    let mut written = full_manifest(1);
    written.savepoint = false;
    let found = pending.complete(&written).unwrap();
    assert_eq!(found.dir, chk(&store, 1));
    assert_eq!(found.manifest, written);
    assert_eq!(names(store.root()), ["chk-00000000000000000001"]);

    let latest = store.latest(None).unwrap();
    assert_eq!(latest.found.as_ref(), Some(&found));
    assert!(latest.skipped.is_empty());
    let files = snapshot(&found.dir);
    let total: usize = files.values().map(Vec::len).sum();
    assert_eq!(found.size_bytes(), total as u64);
    assert!(files.contains_key(Path::new("MANIFEST")));
    assert!(files.contains_key(Path::new("state/worker-0/CURRENT")));
    let tables: Vec<&PathBuf> = files
        .keys()
        .filter(|path| path.extension().is_some_and(|e| e == "sst"))
        .collect();
    assert!(!tables.is_empty(), "a RocksDB checkpoint has table files");

    // Restore, and change the restored database a lot: overwrite, add,
    // and checkpoint it (which flushes its memtable into new table files).
    let live = tmp.path().join("live");
    found.restore_state(&live).unwrap();
    let restored = |path: &Path| live.join(path.strip_prefix("state").unwrap());
    for table in &tables {
        let linked = fs::metadata(restored(table)).unwrap();
        let original = fs::metadata(found.dir.join(table)).unwrap();
        assert_eq!(linked.ino(), original.ino(), "table files are hard-linked");
    }
    for copied in ["CURRENT", "OPTIONS", "MANIFEST-"] {
        let (name, _) = files
            .iter()
            .find(|(path, _)| path.starts_with("state") && file_name(path).starts_with(copied))
            .unwrap();
        let copy = fs::metadata(restored(name)).unwrap();
        let original = fs::metadata(found.dir.join(name)).unwrap();
        assert_ne!(copy.ino(), original.ino(), "{copied} is copied");
    }
    {
        let restored = StateStore::open(&live.join("worker-0")).unwrap();
        let mut state = restored.stage(0, 0..1);
        assert_eq!(state.get(0, b"key").unwrap().as_deref(), Some(&b"one"[..]));
        state.put(0, b"key", b"two").unwrap();
        state.put(0, b"more", b"three").unwrap();
        restored.checkpoint(&tmp.path().join("elsewhere")).unwrap();
    }
    assert_eq!(snapshot(&found.dir), files, "the checkpoint did not change");

    // Read it again from its directory and restore it twice more: into a
    // fresh directory and over the changed one.
    let again = Checkpoints::read(&found.dir).unwrap();
    assert_eq!(again, found);
    for live in [tmp.path().join("live-2"), live] {
        again.restore_state(&live).unwrap();
        let restored = StateStore::open(&live.join("worker-0")).unwrap();
        let state = restored.stage(0, 0..1);
        assert_eq!(state.get(0, b"key").unwrap().as_deref(), Some(&b"one"[..]));
        assert_eq!(state.get(0, b"more").unwrap(), None);
    }
}

fn file_name(path: &Path) -> &str {
    path.file_name().unwrap().to_str().unwrap()
}

#[test]
fn restoring_copies_table_files_when_links_are_off() {
    let tmp = tempfile::tempdir().unwrap();
    let db = StateStore::open(&tmp.path().join("db")).unwrap();
    db.stage(3, 0..4).put(2, b"key", b"value").unwrap();
    let checkpoint = tmp.path().join("checkpoint");
    db.checkpoint(&checkpoint).unwrap();

    // What `restore_state` does once a hard link failed.
    let live = tmp.path().join("live");
    let mut link = false;
    restore_tree(&checkpoint, &live, &mut link).unwrap();
    for name in names(&checkpoint) {
        let copied = fs::metadata(live.join(&name)).unwrap();
        let original = fs::metadata(checkpoint.join(&name)).unwrap();
        assert_ne!(copied.ino(), original.ino(), "{name} is copied");
        assert_eq!(copied.len(), original.len(), "{name} is copied whole");
    }
    let restored = StateStore::open(&live).unwrap();
    let state = restored.stage(3, 0..4);
    assert_eq!(
        state.get(2, b"key").unwrap().as_deref(),
        Some(&b"value"[..])
    );
}

#[test]
fn a_checkpoint_without_state_restores_to_no_state() {
    let (tmp, store) = store(1);
    let found = take(&store, &manifest(1));
    let live = tmp.path().join("live");
    fs::create_dir(&live).unwrap();
    fs::write(live.join("CURRENT"), "old").unwrap();
    found.restore_state(&live).unwrap();
    assert!(!live.exists());
}

#[test]
fn a_partial_directory_is_ignored_and_pruned() {
    let (_tmp, store) = store(3);
    take(&store, &manifest(1));
    // What a crash in `complete` can leave: even a whole manifest and state
    // make no checkpoint without the rename.
    let partial = store.root().join("chk-00000000000000000002.partial");
    fs::create_dir(&partial).unwrap();
    fs::write(partial.join("MANIFEST"), encode_file(&manifest(2))).unwrap();
    fake_state(&partial.join("state"));
    // Names that are not a checkpoint's are ignored, and never deleted.
    fs::create_dir(store.root().join("chk-12")).unwrap();
    fs::write(store.root().join("notes.txt"), "mine").unwrap();

    let listed: Vec<u64> = store.list().unwrap().iter().map(|(id, _)| *id).collect();
    assert_eq!(listed, [1]);
    let latest = store.latest(None).unwrap();
    assert_eq!(latest.found.unwrap().manifest.id, 1);
    assert!(latest.skipped.is_empty());
    assert_eq!(
        Checkpoints::read(&partial).unwrap_err().to_string(),
        format!(
            "checkpoint `{}`: is not complete (a `.partial` directory)",
            partial.display()
        )
    );

    // A checkpoint being written is not a leftover.
    let writing = store.begin(3).unwrap();
    store.prune(&[]).unwrap();
    assert_eq!(
        names(store.root()),
        [
            "chk-00000000000000000001",
            "chk-00000000000000000003.partial",
            "chk-12",
            "notes.txt"
        ]
    );
    writing.complete(&manifest(3)).unwrap();
    let listed: Vec<u64> = store.list().unwrap().iter().map(|(id, _)| *id).collect();
    assert_eq!(listed, [3, 1]);
}

#[test]
fn begin_replaces_a_leftover_and_refuses_a_taken_id() {
    let (_tmp, store) = store(3);
    let leftover = store.root().join("chk-00000000000000000001.partial");
    fs::create_dir_all(leftover.join("state")).unwrap();
    fs::write(leftover.join("MANIFEST"), "torn").unwrap();

    let pending = store.begin(1).unwrap();
    assert_eq!(names(&leftover), Vec::<String>::new());
    assert_eq!(
        store.begin(1).unwrap_err().to_string(),
        format!("checkpoint `{}` already exists", leftover.display())
    );
    pending.complete(&manifest(1)).unwrap();
    assert_eq!(
        store.begin(1).unwrap_err().to_string(),
        format!("checkpoint `{}` already exists", chk(&store, 1).display())
    );
}

#[test]
fn abort_and_drop_remove_the_partial_directory() {
    let (_tmp, store) = store(3);
    let aborted = store.begin(1).unwrap();
    fake_state(&aborted.state_dir());
    aborted.abort();
    let dropped = store.begin(2).unwrap();
    fake_state(&dropped.state_dir());
    drop(dropped);
    assert_eq!(names(store.root()), Vec::<String>::new());
    // Their ids are free again.
    take(&store, &manifest(1));
    take(&store, &manifest(2));
}

#[test]
fn complete_refuses_a_manifest_the_store_would_not_read() {
    let (_tmp, store) = store(3);
    let partial = store.root().join("chk-00000000000000000001.partial");

    let pending = store.begin(1).unwrap();
    assert_eq!(
        pending.complete(&manifest(2)).unwrap_err().to_string(),
        format!(
            "checkpoint `{}`: manifest is of checkpoint 2 instead of 1",
            partial.display()
        )
    );
    assert_eq!(names(store.root()), Vec::<String>::new());

    let pending = store.begin(1).unwrap();
    let with_state = Manifest {
        has_state: true,
        ..manifest(1)
    };
    assert_eq!(
        pending.complete(&with_state).unwrap_err().to_string(),
        format!(
            "checkpoint `{}`: state directory is missing",
            partial.display()
        )
    );
    assert_eq!(names(store.root()), Vec::<String>::new());
}

/// Checkpoint 1 is fine; checkpoint 2 is made unusable by `damage`, which
/// returns the reason expected: `latest` must skip 2 with that reason,
/// loudly, and fall back to 1.
fn assert_skipped(damage: impl FnOnce(&Path) -> String) {
    let (_tmp, store) = store(3);
    take(&store, &manifest(1));
    let two = take(
        &store,
        &Manifest {
            has_state: true,
            ..manifest(2)
        },
    );
    let reason = damage(&two.dir);

    let (latest, logged) = logs(|| store.latest(None).unwrap());
    assert_eq!(
        latest.found.as_ref().map(|found| found.manifest.id),
        Some(1)
    );
    assert_eq!(skipped(&latest), [(2, reason.clone())]);
    assert!(
        logged.contains("skipping unusable checkpoint checkpoint=2"),
        "{logged}"
    );
    assert!(logged.contains(&reason), "{logged}");

    let listed = store.list().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].0, 2);
    assert_eq!(listed[0].1.as_ref().unwrap_err().to_string(), reason);
    assert_eq!(listed[1].0, 1);
    assert!(listed[1].1.is_ok());
    assert_eq!(Checkpoints::read(&two.dir).unwrap_err().to_string(), reason);
}

#[test]
fn a_truncated_manifest_is_skipped() {
    assert_skipped(|dir| {
        let path = dir.join("MANIFEST");
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..12]).unwrap();
        format!(
            "checkpoint `{}`: manifest is truncated (12 of {} bytes)",
            dir.display(),
            bytes.len()
        )
    });
}

#[test]
fn a_manifest_cut_in_its_header_is_skipped() {
    assert_skipped(|dir| {
        let path = dir.join("MANIFEST");
        fs::write(&path, &fs::read(&path).unwrap()[..10]).unwrap();
        format!(
            "checkpoint `{}`: manifest is truncated (10 of 16 bytes)",
            dir.display()
        )
    });
}

#[test]
fn a_flipped_byte_is_skipped() {
    assert_skipped(|dir| {
        let path = dir.join("MANIFEST");
        let mut bytes = fs::read(&path).unwrap();
        let body = 12..bytes.len() - 4;
        let stored = crc32fast::hash(&bytes[body.clone()]);
        bytes[20] ^= 0x01;
        let computed = crc32fast::hash(&bytes[body]);
        fs::write(&path, &bytes).unwrap();
        format!(
            "checkpoint `{}`: manifest checksum mismatch \
         (stored {stored:08x}, computed {computed:08x})",
            dir.display()
        )
    });
}

#[test]
fn trailing_bytes_are_skipped() {
    assert_skipped(|dir| {
        let path = dir.join("MANIFEST");
        let mut bytes = fs::read(&path).unwrap();
        bytes.extend_from_slice(b"\0\0\0");
        fs::write(&path, &bytes).unwrap();
        format!(
            "checkpoint `{}`: manifest has 3 trailing bytes",
            dir.display()
        )
    });
}

#[test]
fn a_foreign_manifest_is_skipped() {
    assert_skipped(|dir| {
        let path = dir.join("MANIFEST");
        let mut bytes = fs::read(&path).unwrap();
        bytes[..8].copy_from_slice(b"NOTWEIR!");
        fs::write(&path, &bytes).unwrap();
        format!(
            "checkpoint `{}`: manifest does not start with `WEIRCKPT`",
            dir.display()
        )
    });
}

#[test]
fn a_missing_manifest_is_skipped() {
    assert_skipped(|dir| {
        fs::remove_file(dir.join("MANIFEST")).unwrap();
        format!("checkpoint `{}`: manifest is missing", dir.display())
    });
}

#[test]
fn a_missing_state_directory_is_skipped() {
    assert_skipped(|dir| {
        fs::remove_dir_all(dir.join("state")).unwrap();
        format!("checkpoint `{}`: state directory is missing", dir.display())
    });
}

#[test]
fn a_state_directory_without_current_is_skipped() {
    assert_skipped(|dir| {
        fs::remove_file(dir.join("state/worker-1/CURRENT")).unwrap();
        format!(
            "checkpoint `{}`: state of worker 1 has no `CURRENT` file",
            dir.display()
        )
    });
}

#[test]
fn a_manifest_of_another_id_is_skipped() {
    assert_skipped(|dir| {
        let other = Manifest {
            has_state: true,
            ..manifest(7)
        };
        fs::write(dir.join("MANIFEST"), encode_file(&other)).unwrap();
        format!(
            "checkpoint `{}`: manifest is of checkpoint 7 instead of 2",
            dir.display()
        )
    });
}

#[test]
fn a_newer_format_is_skipped() {
    assert_skipped(|dir| {
        let newer = Manifest {
            format: 2,
            has_state: true,
            ..manifest(2)
        };
        fs::write(dir.join("MANIFEST"), encode_file(&newer)).unwrap();
        format!(
            "checkpoint `{}`: written by a newer weir (format 2, this one reads up to 1)",
            dir.display()
        )
    });
}

#[test]
fn latest_at_most_looks_only_at_older_checkpoints() {
    let (_tmp, store) = store(5);
    for id in 1..=3 {
        take(&store, &manifest(id));
    }
    let id = |latest: Latest| latest.found.map(|found| found.manifest.id);
    assert_eq!(id(store.latest(None).unwrap()), Some(3));
    assert_eq!(id(store.latest(Some(2)).unwrap()), Some(2));
    assert_eq!(id(store.latest(Some(0)).unwrap()), None);

    // Damage checkpoint 3: skipped for `None`, not even read for `Some(2)`.
    fs::write(chk(&store, 3).join("MANIFEST"), "").unwrap();
    let latest = store.latest(None).unwrap();
    assert_eq!(skipped(&latest).len(), 1);
    assert_eq!(id(latest), Some(2));
    let latest = store.latest(Some(2)).unwrap();
    assert!(latest.skipped.is_empty());
    assert_eq!(id(latest), Some(2));

    // None usable at all.
    fs::write(chk(&store, 2).join("MANIFEST"), "").unwrap();
    fs::write(chk(&store, 1).join("MANIFEST"), "").unwrap();
    let latest = store.latest(None).unwrap();
    assert!(latest.found.is_none());
    let ids: Vec<u64> = latest.skipped.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [3, 2, 1]);
}

#[test]
fn an_empty_store_has_no_latest() {
    let (_tmp, store) = store(1);
    let latest = store.latest(None).unwrap();
    assert!(latest.found.is_none());
    assert!(latest.skipped.is_empty());
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn prune_keeps_the_newest_savepoints_protected_and_unusable() {
    let (_tmp, store) = store(2);
    for id in 1..=6 {
        take(
            &store,
            &Manifest {
                savepoint: id == 3,
                ..manifest(id)
            },
        );
    }
    // Unusable: it may be a savepoint, so it is left to a person.
    take(&store, &manifest(7));
    fs::write(chk(&store, 7).join("MANIFEST"), "").unwrap();

    store.prune(&[1]).unwrap();
    let ids = |store: &Checkpoints| -> Vec<u64> {
        store.list().unwrap().iter().map(|(id, _)| *id).collect()
    };
    // Newest 2 usable non-savepoints (6, 5), the savepoint (3), the
    // protected (1) and the unusable (7) stay.
    assert_eq!(ids(&store), [7, 6, 5, 3, 1]);
    assert_eq!(names(store.root()).len(), 5, "nothing partial is left");

    store.prune(&[]).unwrap();
    assert_eq!(ids(&store), [7, 6, 5, 3]);

    // A protected id among the newest counts as one of them.
    take(&store, &manifest(8));
    store.prune(&[8, 6]).unwrap();
    assert_eq!(ids(&store), [8, 7, 6, 3]);
}

#[test]
fn read_reads_a_checkpoint_moved_elsewhere() {
    let (tmp, store) = store(1);
    let found = take(&store, &full_manifest(4));
    let moved = tmp.path().join("friday");
    fs::rename(&found.dir, &moved).unwrap();
    let read = Checkpoints::read(&moved).unwrap();
    assert_eq!(read.dir, moved);
    assert_eq!(read.manifest, found.manifest);

    let missing = tmp.path().join("missing");
    let error = Checkpoints::read(&missing).unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "cannot open checkpoint directory `{}`: No such file or directory (os error 2)",
            missing.display()
        )
    );
}

#[test]
fn open_refuses_to_keep_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("checkpoints");
    assert_eq!(
        Checkpoints::open(&root, 0).unwrap_err().to_string(),
        format!(
            "checkpoint store `{}`: must keep at least 1 checkpoint",
            root.display()
        )
    );
    let store = Checkpoints::open(&root.join("nested"), 1).unwrap();
    assert!(store.root().is_dir());
}

// ---------------------------------------------------------------------------
// The manifest

#[test]
fn manifest_new_is_current_and_empty() {
    let manifest = Manifest::new(5, topology());
    assert_eq!(manifest.format, FORMAT);
    assert_eq!(manifest.id, 5);
    assert_eq!(manifest.topology, Some(topology()));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!((now - 60_000..=now).contains(&manifest.created_unix_ms));
    assert!(!manifest.savepoint && !manifest.has_state);
    assert!(manifest.sources.is_empty() && manifest.sinks.is_empty());
    assert!(manifest.operators.is_empty());
}

#[test]
fn manifest_file_round_trips() {
    let dir = Path::new("/x");
    let manifest = full_manifest(9);
    assert_eq!(decode_file(dir, &encode_file(&manifest)).unwrap(), manifest);
    assert_eq!(
        decode_file(dir, &encode_file(&Manifest::default())).unwrap(),
        Manifest::default()
    );
}

#[test]
fn manifest_file_framing_is_pinned() {
    // Hand-checked: field 1 (varint) = 1, field 2 = 3, field 3 = 1000,
    // field 4 = true, field 9 = true.
    let manifest = Manifest {
        format: 1,
        id: 3,
        created_unix_ms: 1000,
        savepoint: true,
        has_state: true,
        ..Manifest::default()
    };
    let body = [
        0x08, 0x01, 0x10, 0x03, 0x18, 0xe8, 0x07, 0x20, 0x01, 0x48, 0x01,
    ];
    assert_eq!(manifest.encode_to_vec(), body);

    let mut file = b"WEIRCKPT\x0b\x00\x00\x00".to_vec();
    file.extend_from_slice(&body);
    file.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    assert_eq!(encode_file(&manifest), file);
    // CRC-32/IEEE of the nine ASCII digits, the standard check value.
    assert_eq!(crc32fast::hash(b"123456789"), 0xcbf4_3926);
}

#[test]
fn an_undecodable_manifest_is_refused() {
    let body = [0xff];
    let mut file = MAGIC.to_vec();
    file.extend_from_slice(&1u32.to_le_bytes());
    file.extend_from_slice(&body);
    file.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    let error = decode_file(Path::new("/x/chk-1"), &file)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(
            "checkpoint `/x/chk-1`: manifest does not decode: failed to decode Protobuf message"
        ),
        "{error}"
    );
}

#[test]
fn unknown_fields_are_ignored() {
    // A newer writer's extra field, in the same format: ignored.
    let mut body = manifest(2).encode_to_vec();
    encoding::string::encode(99, &"from the future".to_string(), &mut body);
    let decoded = Manifest::decode(&body[..]).unwrap();
    assert_eq!(decoded, manifest(2));
}

/// Every field of `runtime/proto/checkpoint.proto`: message, type, name,
/// number. The `.proto` file must match it (`proto_file_matches_the_tags`)
/// and so must prost's encoding of the hand-written messages
/// (`tags_are_pinned_field_by_field`), so a field renumbered in either place
/// fails a test.
const TAGS: &[(&str, &str, &str, u32)] = &[
    ("Manifest", "uint32", "format", 1),
    ("Manifest", "uint64", "id", 2),
    ("Manifest", "int64", "created_unix_ms", 3),
    ("Manifest", "bool", "savepoint", 4),
    ("Manifest", "Topology", "topology", 5),
    ("Manifest", "repeated SourcePartition", "sources", 6),
    ("Manifest", "repeated SinkCommit", "sinks", 7),
    ("Manifest", "repeated OperatorState", "operators", 8),
    ("Manifest", "bool", "has_state", 9),
    ("Topology", "string", "pipeline", 1),
    ("Topology", "uint32", "key_groups", 2),
    ("Topology", "uint32", "parallelism", 3),
    ("Topology", "repeated Stage", "stages", 4),
    ("Stage", "string", "name", 1),
    ("Stage", "string", "kind", 2),
    ("Stage", "string", "plugin", 3),
    ("Stage", "string", "state_fingerprint", 4),
    ("SourcePartition", "string", "source", 1),
    ("SourcePartition", "uint32", "partition", 2),
    ("SourcePartition", "int64", "watermark", 3),
    ("SourcePartition", "GeneratorPosition", "generator", 4),
    ("SourcePartition", "FilePosition", "file", 5),
    ("SourcePartition", "KafkaPosition", "kafka", 6),
    ("GeneratorPosition", "uint64", "emitted", 1),
    ("FilePosition", "uint64", "offset", 1),
    ("FilePosition", "uint64", "line", 2),
    ("KafkaPosition", "repeated KafkaOffset", "offsets", 1),
    ("KafkaOffset", "string", "topic", 1),
    ("KafkaOffset", "int32", "partition", 2),
    ("KafkaOffset", "int64", "next", 3),
    ("KafkaOffset", "int64", "watermark", 4),
    ("SinkCommit", "string", "sink", 1),
    ("SinkCommit", "FileCommit", "file", 2),
    ("SinkCommit", "KafkaCommit", "kafka", 3),
    ("FileCommit", "string", "staged", 1),
    ("FileCommit", "uint64", "visible_len", 2),
    ("FileCommit", "uint64", "staged_len", 3),
    ("KafkaCommit", "string", "transactional_id", 1),
    ("OperatorState", "uint32", "stage", 1),
    ("OperatorState", "uint32", "first_key_group", 2),
    ("OperatorState", "uint32", "end_key_group", 3),
    ("OperatorState", "int64", "watermark", 4),
    ("OperatorState", "uint64", "seq", 5),
];

/// The number of `message.field` in [`TAGS`].
fn tag(message: &str, field: &str) -> u32 {
    TAGS.iter()
        .find(|&&(m, _, f, _)| m == message && f == field)
        .map(|&(_, _, _, tag)| tag)
        .unwrap_or_else(|| panic!("no field {message}.{field} in TAGS"))
}

#[test]
fn proto_file_matches_the_tags() {
    let proto = include_str!("../../proto/checkpoint.proto");
    assert!(proto.contains("\nsyntax = \"proto3\";\n"));
    assert!(proto.contains("\npackage weir.checkpoint.v1;\n"));

    let mut fields = BTreeSet::new();
    let mut messages = BTreeSet::new();
    let mut message: Option<&str> = None;
    let mut in_oneof = false;
    for line in proto.lines() {
        let line = line.split("//").next().unwrap().trim();
        if line.is_empty() || line.starts_with("syntax") || line.starts_with("package") {
            continue;
        }
        if let Some(name) = line.strip_prefix("message ") {
            let name = name.strip_suffix(" {").expect("`message Name {`");
            assert!(message.is_none(), "nested message {name}");
            assert!(messages.insert(name), "message {name} twice");
            message = Some(name);
        } else if line.starts_with("oneof ") {
            in_oneof = true;
        } else if line == "}" {
            if in_oneof {
                in_oneof = false;
            } else {
                assert!(message.take().is_some(), "`}}` outside a message");
            }
        } else {
            let field = line
                .strip_suffix(';')
                .unwrap_or_else(|| panic!("field: {line}"));
            let (declaration, number) = field.split_once(" = ").unwrap();
            let (kind, name) = declaration.rsplit_once(' ').unwrap();
            let message = message.unwrap_or_else(|| panic!("field outside a message: {line}"));
            let number: u32 = number.parse().unwrap();
            assert!(
                fields.insert((message, kind, name, number)),
                "field {message}.{name} twice"
            );
        }
    }
    let expected: BTreeSet<(&str, &str, &str, u32)> = TAGS.iter().copied().collect();
    assert_eq!(fields, expected);
    let expected: BTreeSet<&str> = TAGS.iter().map(|&(message, ..)| message).collect();
    assert_eq!(messages, expected);
}

/// A message encoded by hand, field by field, each field's number looked up
/// in [`TAGS`].
struct Fields {
    message: &'static str,
    buf: Vec<u8>,
}

impl Fields {
    fn new(message: &'static str) -> Fields {
        Fields {
            message,
            buf: Vec::new(),
        }
    }

    fn tag(&self, field: &str) -> u32 {
        tag(self.message, field)
    }

    fn uint32(mut self, field: &str, value: u32) -> Fields {
        encoding::uint32::encode(self.tag(field), &value, &mut self.buf);
        self
    }

    fn uint64(mut self, field: &str, value: u64) -> Fields {
        encoding::uint64::encode(self.tag(field), &value, &mut self.buf);
        self
    }

    fn int32(mut self, field: &str, value: i32) -> Fields {
        encoding::int32::encode(self.tag(field), &value, &mut self.buf);
        self
    }

    fn int64(mut self, field: &str, value: i64) -> Fields {
        encoding::int64::encode(self.tag(field), &value, &mut self.buf);
        self
    }

    fn bool(mut self, field: &str, value: bool) -> Fields {
        encoding::bool::encode(self.tag(field), &value, &mut self.buf);
        self
    }

    fn string(mut self, field: &str, value: &str) -> Fields {
        encoding::string::encode(self.tag(field), &value.to_string(), &mut self.buf);
        self
    }

    /// `message` as field `field` (length-delimited).
    fn message(mut self, field: &str, message: Fields) -> Fields {
        encoding::encode_key(self.tag(field), WireType::LengthDelimited, &mut self.buf);
        encoding::encode_varint(message.buf.len() as u64, &mut self.buf);
        self.buf.extend_from_slice(&message.buf);
        self
    }
}

/// `full_manifest(id)` encoded field by field in field-number order, as
/// prost writes them, leaving out what proto3 leaves out (empty strings).
fn full_manifest_by_hand(id: u64) -> Vec<u8> {
    let full = full_manifest(id);
    let mut manifest = Fields::new("Manifest")
        .uint32("format", full.format)
        .uint64("id", full.id)
        .int64("created_unix_ms", full.created_unix_ms)
        .bool("savepoint", full.savepoint);

    let topology = full.topology.as_ref().unwrap();
    let mut fields = Fields::new("Topology")
        .string("pipeline", &topology.pipeline)
        .uint32("key_groups", topology.key_groups)
        .uint32("parallelism", topology.parallelism);
    for stage in &topology.stages {
        let mut message = Fields::new("Stage")
            .string("name", &stage.name)
            .string("kind", &stage.kind)
            .string("plugin", &stage.plugin);
        if !stage.state_fingerprint.is_empty() {
            message = message.string("state_fingerprint", &stage.state_fingerprint);
        }
        fields = fields.message("stages", message);
    }
    manifest = manifest.message("topology", fields);

    for source in &full.sources {
        let fields = Fields::new("SourcePartition")
            .string("source", &source.source)
            .uint32("partition", source.partition)
            .int64("watermark", source.watermark);
        let fields = match source.position.as_ref().unwrap() {
            Position::Generator(generator) => fields.message(
                "generator",
                Fields::new("GeneratorPosition").uint64("emitted", generator.emitted),
            ),
            Position::File(file) => fields.message(
                "file",
                Fields::new("FilePosition")
                    .uint64("offset", file.offset)
                    .uint64("line", file.line),
            ),
            Position::Kafka(kafka) => {
                let mut position = Fields::new("KafkaPosition");
                for offset in &kafka.offsets {
                    let offset = Fields::new("KafkaOffset")
                        .string("topic", &offset.topic)
                        .int32("partition", offset.partition)
                        .int64("next", offset.next)
                        .int64("watermark", offset.watermark);
                    position = position.message("offsets", offset);
                }
                fields.message("kafka", position)
            }
        };
        manifest = manifest.message("sources", fields);
    }

    for sink in &full.sinks {
        let fields = Fields::new("SinkCommit").string("sink", &sink.sink);
        let fields = match sink.pending.as_ref().unwrap() {
            PendingCommit::File(file) => fields.message(
                "file",
                Fields::new("FileCommit")
                    .string("staged", &file.staged)
                    .uint64("visible_len", file.visible_len)
                    .uint64("staged_len", file.staged_len),
            ),
            PendingCommit::Kafka(kafka) => fields.message(
                "kafka",
                Fields::new("KafkaCommit").string("transactional_id", &kafka.transactional_id),
            ),
        };
        manifest = manifest.message("sinks", fields);
    }

    for operator in &full.operators {
        let fields = Fields::new("OperatorState")
            .uint32("stage", operator.stage)
            .uint32("first_key_group", operator.first_key_group)
            .uint32("end_key_group", operator.end_key_group)
            .int64("watermark", operator.watermark)
            .uint64("seq", operator.seq);
        manifest = manifest.message("operators", fields);
    }

    manifest.bool("has_state", full.has_state).buf
}

#[test]
fn tags_are_pinned_field_by_field() {
    let by_hand = full_manifest_by_hand(11);
    assert_eq!(full_manifest(11).encode_to_vec(), by_hand);
    assert_eq!(Manifest::decode(&by_hand[..]).unwrap(), full_manifest(11));
}
