//! What the declaring methods of [`App`](super::App) return: options of the function,
//! windowed aggregation or API just declared.

use super::{DeadLetterQueue, RegisteredApi};
use crate::defs::{ApiDef, FunctionDef, WindowedAggregationDef};

/// A declaration with a dead-letter stream.
trait WithDeadLetter {
    fn dead_letter(&mut self) -> &mut Option<String>;
}

impl WithDeadLetter for FunctionDef {
    fn dead_letter(&mut self) -> &mut Option<String> {
        &mut self.dead_letter
    }
}

impl WithDeadLetter for WindowedAggregationDef {
    fn dead_letter(&mut self) -> &mut Option<String> {
        &mut self.dead_letter
    }
}

/// Sets the dead-letter stream of the declaration just made (`None`: none).
fn set_dead_letter<D: WithDeadLetter>(def: &mut Option<&mut D>, stream: Option<String>) {
    if let Some(def) = def.as_deref_mut() {
        *def.dead_letter() = stream;
    }
}

/// Options of a function just declared.
pub struct FunctionOptions<'a> {
    pub(super) def: Option<&'a mut FunctionDef>,
}

impl FunctionOptions<'_> {
    /// Sends records the function rejects or fails on to `queue` instead of the default
    /// `<name>_dead_letter`.
    pub fn dead_letter(mut self, queue: &DeadLetterQueue) -> Self {
        set_dead_letter(&mut self.def, Some(queue.name.clone()));
        self
    }

    /// Drops the records the function rejects or fails on (counted as failed and logged)
    /// instead of keeping them in a dead-letter stream.
    pub fn without_dead_letter(mut self) -> Self {
        set_dead_letter(&mut self.def, None);
        self
    }
}

/// Options of a windowed aggregation just declared.
pub struct WindowedAggregationOptions<'a> {
    pub(super) def: Option<&'a mut WindowedAggregationDef>,
}

impl WindowedAggregationOptions<'_> {
    /// Sets the version of the state's layout (default 1). Raise it when the state type
    /// changes incompatibly: the host then drops the kept state of open windows instead of
    /// handing old bytes to the new code.
    pub fn state_version(mut self, version: u32) -> Self {
        if let Some(def) = self.def.as_deref_mut() {
            def.state_version = version;
        }
        self
    }

    /// Sends late records and records the aggregator rejects to `queue` instead of the
    /// default `<name>_dead_letter`.
    pub fn dead_letter(mut self, queue: &DeadLetterQueue) -> Self {
        set_dead_letter(&mut self.def, Some(queue.name.clone()));
        self
    }

    /// Drops late and rejected records (counted and logged) instead of keeping them in a
    /// dead-letter stream.
    pub fn without_dead_letter(mut self) -> Self {
        set_dead_letter(&mut self.def, None);
        self
    }
}

/// Options of an API just declared.
pub struct ApiOptions<'a> {
    pub(super) apis: &'a mut Vec<RegisteredApi>,
}

impl ApiOptions<'_> {
    /// Sets the API's version: it is served at `/api/<name>/<version>` and the host calls
    /// it as `<name>/<version>`.
    pub fn version(self, version: &str) -> Self {
        if let Some(last) = self.apis.last_mut() {
            last.def.version = Some(version.to_owned());
        }
        self
    }

    /// Sets the API's description.
    pub fn doc(self, doc: &str) -> Self {
        if let Some(last) = self.apis.last_mut() {
            last.def.doc = Some(doc.to_owned());
        }
        self
    }
}

/// Once the options are set, the API's name and version must be new.
impl Drop for ApiOptions<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        if let Some((last, others)) = self.apis.split_last() {
            let reference = api_ref(&last.def);
            assert!(
                !others.iter().any(|a| api_ref(&a.def) == reference),
                "two APIs are named `{reference}`"
            );
        }
    }
}

/// How the host names an API in `handle-api`: `name`, or `name/version` when versioned.
pub(super) fn api_ref(def: &ApiDef) -> String {
    match &def.version {
        Some(version) => format!("{}/{version}", def.name),
        None => def.name.clone(),
    }
}
