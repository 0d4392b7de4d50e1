//! Per-instance resource limits enforced by the store.

use wasmtime::ResourceLimiter;

/// A guest asked for more linear memory than its instance may have.
#[derive(Debug, Clone, thiserror::Error)]
#[error("memory limit exceeded: the guest asked for {requested} bytes, the limit is {limit} bytes")]
pub struct MemoryLimitExceeded {
    pub requested: usize,
    pub limit: usize,
}

/// Caps each linear memory of an instance; a growth past the cap traps with
/// [`MemoryLimitExceeded`] so the host can tell it apart from other traps.
#[derive(Debug, Clone)]
pub struct MemoryLimiter {
    limit: usize,
}

impl MemoryLimiter {
    pub fn new(limit: usize) -> Self {
        Self { limit }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
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
