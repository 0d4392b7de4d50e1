//! How a runner sees a call into a guest that produced nothing: the guest refused it, the
//! call failed in the runtime, or the task running it did not finish.

use moose_runtime::types::GuestError;
use moose_runtime::CallError;

/// Why a guest call produced no answer; its message goes into the dead letters of the
/// records the call carried.
#[derive(Debug, thiserror::Error)]
pub enum GuestCallError {
    /// The guest answered with an error for the whole call.
    #[error("the guest refused the call: {}", refusal(.0))]
    Refused(GuestError),
    /// The call trapped, ran out of time or memory, or could not start.
    #[error(transparent)]
    Call(#[from] CallError),
    /// The blocking task that made the call panicked or was cancelled.
    #[error("the call did not complete: {0}")]
    Interrupted(#[from] tokio::task::JoinError),
}

/// A guest's whole-call error in words.
fn refusal(error: &GuestError) -> String {
    match error {
        GuestError::UnknownFunction(name) => format!("it has no function `{name}`"),
        GuestError::UnsupportedEncoding(encoding) => {
            format!("it does not accept the {encoding:?} encoding")
        }
        GuestError::Failed(message) => message.clone(),
    }
}

impl GuestCallError {
    /// A runtime call's nested outcome as one result.
    pub fn flatten<T>(outcome: Result<Result<T, GuestError>, CallError>) -> Result<T, Self> {
        outcome?.map_err(Self::Refused)
    }
}
