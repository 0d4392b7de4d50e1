//! Per-instance resource limits enforced by the store, and the bounds on what one call
//! may return.

use wasmtime::ResourceLimiter;

use super::bindings::types::Batch;

/// A guest asked for more linear memory than its instance may have.
#[derive(Debug, Clone, thiserror::Error)]
#[error("memory limit exceeded: the guest asked for {requested} bytes, the limit is {limit} bytes ([runtime] memory_limit_mb)")]
pub struct MemoryLimitExceeded {
    pub requested: usize,
    pub limit: usize,
}

/// Caps each linear memory of an instance; a growth past the cap traps with
/// [`MemoryLimitExceeded`] so the host can tell it apart from other traps. Also counts how
/// far the instance's memories grew, so a grown instance is not kept for reuse.
#[derive(Debug, Clone)]
pub struct MemoryLimiter {
    limit: usize,
    grown: usize,
}

impl MemoryLimiter {
    pub fn new(limit: usize) -> Self {
        Self { limit, grown: 0 }
    }

    /// Bytes the instance's memories grew by since it was created.
    pub fn grown(&self) -> usize {
        self.grown
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            return Err(MemoryLimitExceeded {
                requested: desired,
                limit: self.limit,
            }
            .into());
        }
        self.grown += desired.saturating_sub(current);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

/// Bounds on what one call may return; a call past one of them fails with
/// [`OutputLimitExceeded`] and its output is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimits {
    /// Most bytes of output (records, an API response's body, a window's state) per call.
    pub max_bytes: usize,
    /// Most bytes of one output record.
    pub max_record_bytes: usize,
    /// Most output records per call.
    pub max_records: usize,
}

impl Default for OutputLimits {
    fn default() -> Self {
        Self {
            max_bytes: 64 << 20,
            // As large as an ingest body may be.
            max_record_bytes: 16 << 20,
            max_records: 100_000,
        }
    }
}

/// A call's output broke one of the [`OutputLimits`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputLimitExceeded {
    #[error("its output is {bytes} bytes, more than the {limit} allowed per call ([runtime] max_output_mb)")]
    Bytes { bytes: usize, limit: usize },
    #[error("output record {index} is {bytes} bytes, more than the {limit} allowed per record ([runtime] max_output_record_kb)")]
    RecordBytes {
        index: usize,
        bytes: usize,
        limit: usize,
    },
    #[error("it returned {records} records, more than the {limit} allowed per call ([runtime] max_output_records)")]
    Records { records: usize, limit: usize },
}

impl OutputLimits {
    /// Checks a call's output bytes that are not records.
    pub fn check_bytes(&self, bytes: usize) -> Result<(), OutputLimitExceeded> {
        if bytes > self.max_bytes {
            return Err(OutputLimitExceeded::Bytes {
                bytes,
                limit: self.max_bytes,
            });
        }
        Ok(())
    }

    /// Checks a batch of output records (one per line).
    pub fn check_batch(&self, batch: &Batch) -> Result<(), OutputLimitExceeded> {
        self.check_bytes(batch.data.len())?;
        let records = batch.count as usize;
        if records > self.max_records {
            return Err(OutputLimitExceeded::Records {
                records,
                limit: self.max_records,
            });
        }
        if batch.data.len() > self.max_record_bytes {
            for (index, record) in batch.data.split(|b| *b == b'\n').enumerate() {
                if record.len() > self.max_record_bytes {
                    return Err(OutputLimitExceeded::RecordBytes {
                        index,
                        bytes: record.len(),
                        limit: self.max_record_bytes,
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Encoding;

    fn batch(lines: &[usize]) -> Batch {
        let records: Vec<String> = lines.iter().map(|n| "x".repeat(*n)).collect();
        Batch {
            encoding: Encoding::Json,
            count: lines.len() as u32,
            data: records.join("\n").into_bytes(),
        }
    }

    #[test]
    fn checks_each_bound_at_its_limit() {
        let limits = OutputLimits {
            max_bytes: 20,
            max_record_bytes: 8,
            max_records: 3,
        };
        assert_eq!(limits.check_batch(&batch(&[8, 8])), Ok(()));
        assert_eq!(
            limits.check_batch(&batch(&[8, 9])),
            Err(OutputLimitExceeded::RecordBytes {
                index: 1,
                bytes: 9,
                limit: 8
            })
        );
        assert_eq!(
            limits.check_batch(&batch(&[1, 1, 1, 1])),
            Err(OutputLimitExceeded::Records {
                records: 4,
                limit: 3
            })
        );
        assert_eq!(limits.check_batch(&batch(&[6, 6, 6])), Ok(()));
        assert_eq!(
            limits.check_batch(&batch(&[7, 7, 7])),
            Err(OutputLimitExceeded::Bytes {
                bytes: 23,
                limit: 20
            })
        );
    }
}
