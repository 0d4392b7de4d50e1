//! The writer thread: group commit of every record append and consumer-group commit.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::{codec, store_error, Inner, StreamState};
use crate::StreamError;

/// Answer to one request once its commit is durable (or failed).
pub(crate) type Reply = oneshot::Sender<Result<(), StreamError>>;

/// A request to the writer.
pub(crate) enum Op {
    /// Append records, already encoded as one run per partition.
    Produce {
        stream: Arc<StreamState>,
        runs: Vec<(u32, codec::Run)>,
        reply: Reply,
    },
    /// Store a group's committed offsets.
    Commit {
        stream: Arc<StreamState>,
        group: String,
        offsets: Vec<u64>,
        reply: Reply,
    },
    /// Commit what is already queued, then stop.
    Shutdown,
}

impl Op {
    fn bytes(&self) -> usize {
        match self {
            Op::Produce { runs, .. } => runs.iter().map(|(_, run)| run.size() + 16).sum(),
            Op::Commit { offsets, .. } => offsets.len() * 8 + 64,
            Op::Shutdown => 0,
        }
    }
}

/// Milliseconds since the Unix epoch that never go backwards within one writer.
struct Clock {
    last: i64,
}

impl Clock {
    fn now(&mut self) -> i64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        self.last = self.last.max(now);
        self.last
    }
}

/// Runs until a [`Op::Shutdown`] arrives or every sender is gone.
pub(crate) fn run(inner: &Inner, mut rx: mpsc::UnboundedReceiver<Op>, max_bytes: usize) {
    let mut clock = Clock { last: 0 };
    while let Some(first) = rx.blocking_recv() {
        let mut shutdown = matches!(first, Op::Shutdown);
        let mut bytes = first.bytes();
        let mut round = vec![first];
        while !shutdown && bytes < max_bytes {
            match rx.try_recv() {
                Ok(Op::Shutdown) => shutdown = true,
                Ok(op) => {
                    bytes += op.bytes();
                    round.push(op);
                }
                Err(_) => break,
            }
        }
        commit_round(inner, &mut clock, round);
        if shutdown {
            // Requests still queued are dropped with the receiver: their callers get
            // "closed".
            return;
        }
    }
}

/// New ends of the partitions of one stream touched by a round.
struct Appended {
    stream: Arc<StreamState>,
    ends: Vec<u64>,
    touched: Vec<bool>,
    records: u64,
}

/// Writes one round of requests as one atomic batch, syncs once, then publishes the new
/// ends and answers every request.
fn commit_round(inner: &Inner, clock: &mut Clock, round: Vec<Op>) {
    let append_ms = clock.now();
    let mut batch = inner
        .db
        .batch()
        .durability(Some(fjall::PersistMode::SyncData));
    let mut appended: HashMap<u32, Appended> = HashMap::new();
    let mut replies = Vec::with_capacity(round.len());
    let (mut produces, mut commits) = (0u64, 0u64);
    for op in round {
        match op {
            Op::Produce {
                stream,
                runs,
                reply,
            } => {
                produces += 1;
                let a = appended.entry(stream.id).or_insert_with(|| Appended {
                    ends: (0..stream.partitions).map(|p| stream.end(p)).collect(),
                    touched: vec![false; stream.partitions as usize],
                    stream: stream.clone(),
                    records: 0,
                });
                for (partition, run) in runs {
                    let p = partition as usize;
                    let (Some(end), Some(touched), Some(log)) =
                        (a.ends.get_mut(p), a.touched.get_mut(p), stream.logs.get(p))
                    else {
                        continue; // partitions are assigned below `stream.partitions`
                    };
                    let records = run.len();
                    batch.insert(log, &codec::offset_key(*end)[..], run.into_entry(append_ms));
                    *end += records;
                    *touched = true;
                    a.records += records;
                }
                replies.push(reply);
            }
            Op::Commit {
                stream,
                group,
                offsets,
                reply,
            } => {
                commits += 1;
                batch.insert(
                    &inner.meta,
                    codec::group_key(stream.id, &group),
                    codec::encode_offsets(&offsets),
                );
                replies.push(reply);
            }
            Op::Shutdown => {}
        }
    }
    for a in appended.values() {
        for (p, (&end, &touched)) in (0u32..).zip(a.ends.iter().zip(&a.touched)) {
            if touched {
                batch.insert(
                    &inner.meta,
                    &codec::end_key(a.stream.id, p)[..],
                    &end.to_be_bytes()[..],
                );
            }
        }
    }
    if batch.is_empty() {
        for reply in replies {
            let _ = reply.send(Ok(()));
        }
        return;
    }
    match batch.commit() {
        Ok(()) => {
            let stats = &inner.stats;
            stats.commits.fetch_add(1, Ordering::Relaxed);
            stats
                .produce_requests
                .fetch_add(produces, Ordering::Relaxed);
            stats.offset_commits.fetch_add(commits, Ordering::Relaxed);
            for a in appended.values() {
                for (slot, &end) in a.stream.ends.iter().zip(&a.ends) {
                    slot.store(end, Ordering::Release);
                }
                stats.records.fetch_add(a.records, Ordering::Relaxed);
                a.stream.changed.send_modify(|v| *v = v.wrapping_add(1));
            }
            for reply in replies {
                let _ = reply.send(Ok(()));
            }
        }
        Err(e) => {
            let e = store_error(e);
            tracing::error!("embedded log: a commit failed: {e}");
            for reply in replies {
                let _ = reply.send(Err(match &e {
                    StreamError::Unavailable(m) => StreamError::Unavailable(m.clone()),
                    other => StreamError::Unavailable(other.to_string()),
                }));
            }
        }
    }
}
