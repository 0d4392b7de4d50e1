//! A consumer of one stream in one consumer group.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{oneshot, watch};

use super::writer::Op;
use super::{blocking, Inner, StreamState};
use crate::{Checkpoint, PollBudget, StoredRecord, StreamConsumer, StreamError};

/// Reads one stream for one consumer group of an [`super::EmbeddedStreams`].
pub(crate) struct EmbeddedConsumer {
    inner: Arc<Inner>,
    stream: Arc<StreamState>,
    group: String,
    /// Next offset to read, per partition.
    positions: Vec<u64>,
    /// What was last committed (durably), per partition.
    committed: Vec<u64>,
    /// Partition that gets served first by the next poll.
    first: u32,
    changed: watch::Receiver<u64>,
}

impl EmbeddedConsumer {
    /// A consumer at the group's committed offsets (blocking: reads the store).
    pub(crate) fn new(
        inner: Arc<Inner>,
        stream: Arc<StreamState>,
        group: String,
    ) -> Result<Self, StreamError> {
        let committed = inner.committed(&stream, &group)?;
        Ok(Self {
            changed: stream.changed.subscribe(),
            positions: committed.clone(),
            committed,
            first: 0,
            inner,
            stream,
            group,
        })
    }

    /// Which offset ranges the next read takes: every partition with records gets a share
    /// of `max`, starting with `self.first`; partitions with fewer records leave their
    /// share to the others.
    fn plan(&mut self, max: usize) -> Vec<(u32, u64, u64)> {
        let n = self.stream.partitions;
        let mut plan: Vec<(u32, u64, u64)> = Vec::new();
        let mut available: Vec<(u32, u64, u64)> = (0..n)
            .map(|i| (self.first + i) % n)
            .filter_map(|p| {
                let pos = self.positions.get_mut(p as usize)?;
                *pos = (*pos).max(self.stream.low(p));
                let end = self.stream.end(p);
                (end > *pos).then_some((p, *pos, end - *pos))
            })
            .collect();
        let mut remaining = u64::try_from(max).unwrap_or(u64::MAX);
        while remaining > 0 && !available.is_empty() {
            let share = (remaining / available.len() as u64).max(1);
            for (p, from, left) in available.iter_mut() {
                let take = share.min(*left).min(remaining);
                if take == 0 {
                    continue;
                }
                match plan.iter_mut().find(|(q, _, _)| q == p) {
                    Some((_, _, count)) => *count += take,
                    None => plan.push((*p, *from, take)),
                }
                *from += take;
                *left -= take;
                remaining -= take;
            }
            available.retain(|&(_, _, left)| left > 0);
        }
        if n > 0 {
            self.first = (self.first + 1) % n;
        }
        plan
    }
}

#[async_trait]
impl StreamConsumer for EmbeddedConsumer {
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<StoredRecord>, StreamError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let deadline = tokio::time::Instant::now().checked_add(wait);
        loop {
            // Seen before looking, so a commit after the look wakes the wait below.
            self.changed.borrow_and_update();
            let plan = self.plan(max);
            if !plan.is_empty() {
                let inner = self.inner.clone();
                let stream = self.stream.clone();
                let read_plan = plan.clone();
                // Partitions after the one that spent the budget are not read this time;
                // the partition served first rotates from poll to poll.
                let batches = blocking(move || {
                    let mut budget = PollBudget::new(inner.max_poll_bytes);
                    read_plan
                        .iter()
                        .map_while(|&(p, from, count)| {
                            (!budget.spent()).then(|| {
                                let range = (from, from.saturating_add(count));
                                inner.read_range(&stream, p, range, &mut budget)
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .await?;
                let mut out = Vec::new();
                for (&(p, from, count), records) in plan.iter().zip(batches) {
                    let Some(pos) = self.positions.get_mut(p as usize) else {
                        continue;
                    };
                    match records.last() {
                        Some(last) => *pos = last.offset + 1,
                        None => {
                            // Only retention deletes stored records, and it moves the first
                            // kept offset past them before deleting them.
                            let low = self.stream.low(p);
                            if low <= from {
                                return Err(StreamError::Backend(format!(
                                    "stream `{}` partition {p}: offsets {from}..{} are missing from the embedded log",
                                    self.stream.name,
                                    from + count
                                )));
                            }
                            *pos = (*pos).max(low);
                        }
                    }
                    out.extend(records);
                }
                if !out.is_empty() {
                    return Ok(out);
                }
                continue;
            }
            let changed = self.changed.changed();
            let woke = match deadline {
                Some(deadline) => {
                    if tokio::time::Instant::now() >= deadline {
                        return Ok(Vec::new());
                    }
                    tokio::time::timeout_at(deadline, changed).await
                }
                None => Ok(changed.await),
            };
            match woke {
                Ok(Ok(())) => continue,
                // Timed out, or the stream's notifier is gone (the backend closed).
                Ok(Err(_)) | Err(_) => return Ok(Vec::new()),
            }
        }
    }

    fn checkpoint(&self) -> Checkpoint {
        Checkpoint((0u32..).zip(self.positions.iter().copied()).collect())
    }

    async fn commit_to(&mut self, checkpoint: &Checkpoint) -> Result<(), StreamError> {
        let mut offsets = self.committed.clone();
        for &(partition, offset) in &checkpoint.0 {
            if let Some(committed) = offsets.get_mut(partition as usize) {
                *committed = (*committed).max(offset);
            }
        }
        if offsets == self.committed {
            return Ok(());
        }
        let (reply, done) = oneshot::channel();
        self.inner.send(Op::Commit {
            stream: self.stream.clone(),
            group: self.group.clone(),
            offsets: offsets.clone(),
            reply,
        })?;
        done.await
            .map_err(|_| StreamError::Unavailable("the embedded log is closed".into()))??;
        self.committed = offsets;
        Ok(())
    }
}
