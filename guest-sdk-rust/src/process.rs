//! Running streaming functions on batches of records.
//!
//! A batch is newline-delimited JSON. Each input line is deserialized into the function's
//! input model, the function runs, and its outputs are serialized compactly into one
//! buffer. Per-record failures become [`RecordError`]s; the rest of the batch goes on.

use std::fmt::Display;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::schema::Model;

/// How the bytes of a [`Batch`] are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// Newline-delimited JSON: one compact JSON object per line.
    Json,
}

/// Records encoded as one buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// How `data` is encoded.
    pub encoding: Encoding,
    /// Number of records in `data`.
    pub count: u32,
    /// The records.
    pub data: Vec<u8>,
}

impl Batch {
    /// A JSON batch of these lines (each one compact JSON, without newlines).
    pub fn from_lines<I, S>(lines: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut data = Vec::new();
        let mut count = 0u32;
        for line in lines {
            if count > 0 {
                data.push(b'\n');
            }
            data.extend_from_slice(line.as_ref().as_bytes());
            count += 1;
        }
        Batch {
            encoding: Encoding::Json,
            count,
            data,
        }
    }

    /// A JSON batch of these records.
    pub fn from_records<T: Serialize>(records: &[T]) -> Result<Self, serde_json::Error> {
        let lines = records
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::from_lines(lines))
    }

    /// The records' lines (empty when `count` is 0).
    pub fn lines(&self) -> Vec<&str> {
        if self.count == 0 {
            return Vec::new();
        }
        let data = self.data.strip_suffix(b"\n").unwrap_or(&self.data);
        split_lines(data)
            .map(|line| std::str::from_utf8(line).unwrap_or("<invalid UTF-8>"))
            .collect()
    }

    /// The records, deserialized.
    pub fn records<T: DeserializeOwned>(&self) -> Result<Vec<T>, serde_json::Error> {
        self.lines().into_iter().map(serde_json::from_str).collect()
    }
}

/// A record of the input batch that the function rejected or failed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Index of the record in the input batch.
    pub index: u32,
    /// What went wrong.
    pub message: String,
}

/// The result of running a function on a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessOutput {
    /// Output records, in order.
    pub output: Batch,
    /// For each output record, the index of the input record it came from.
    pub sources: Vec<u32>,
    /// Input records that produced an error instead of output.
    pub errors: Vec<RecordError>,
}

/// An error for a whole `process` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestError {
    /// No function of that name.
    UnknownFunction(String),
    /// The batch is not JSON.
    UnsupportedEncoding(Encoding),
    /// The batch is malformed (for example its `count` does not match its lines).
    Failed(String),
}

impl Display for GuestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GuestError::UnknownFunction(name) => write!(f, "unknown function `{name}`"),
            GuestError::UnsupportedEncoding(e) => write!(f, "unsupported encoding {e:?}"),
            GuestError::Failed(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for GuestError {}

/// Where a function's output records go while a batch is processed.
pub struct Outputs<'a> {
    data: &'a mut Vec<u8>,
    sources: &'a mut Vec<u32>,
    source: u32,
}

impl Outputs<'_> {
    /// Appends one output record.
    pub fn push<O: Serialize>(&mut self, record: &O) -> Result<(), String> {
        if !self.sources.is_empty() {
            self.data.push(b'\n');
        }
        serde_json::to_writer(&mut *self.data, record)
            .map_err(|e| format!("cannot serialize output record: {e}"))?;
        self.sources.push(self.source);
        Ok(())
    }
}

/// What a transform may return for one input record: `O`, `Option<O>`, `Vec<O>`, or a
/// `Result` of one of those whose error is `Display` (the error becomes a record error).
#[diagnostic::on_unimplemented(
    message = "a transform into a stream of `{O}` must return `{O}`, `Option<{O}>`, `Vec<{O}>` or a `Result` of those, not `{Self}`"
)]
pub trait IntoOutputs<O> {
    /// Writes the records; an `Err` is the message of the record's error.
    fn write_outputs(self, out: &mut Outputs<'_>) -> Result<(), String>;
}

impl<O: Model> IntoOutputs<O> for O {
    fn write_outputs(self, out: &mut Outputs<'_>) -> Result<(), String> {
        out.push(&self)
    }
}

impl<O: Model> IntoOutputs<O> for Option<O> {
    fn write_outputs(self, out: &mut Outputs<'_>) -> Result<(), String> {
        match self {
            Some(record) => out.push(&record),
            None => Ok(()),
        }
    }
}

impl<O: Model> IntoOutputs<O> for Vec<O> {
    fn write_outputs(self, out: &mut Outputs<'_>) -> Result<(), String> {
        self.iter().try_for_each(|record| out.push(record))
    }
}

impl<O: Model, T: IntoOutputs<O>, E: Display> IntoOutputs<O> for Result<T, E> {
    fn write_outputs(self, out: &mut Outputs<'_>) -> Result<(), String> {
        match self {
            Ok(records) => records.write_outputs(out),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// What a consumer may return for one input record: `()` or `Result<(), E: Display>`.
#[diagnostic::on_unimplemented(
    message = "a consumer must return `()` or `Result<(), E: Display>`, not `{Self}`"
)]
pub trait ConsumerOutcome {
    /// `Err` is the message of the record's error.
    fn into_outcome(self) -> Result<(), String>;
}

impl ConsumerOutcome for () {
    fn into_outcome(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: Display> ConsumerOutcome for Result<(), E> {
    fn into_outcome(self) -> Result<(), String> {
        self.map_err(|e| e.to_string())
    }
}

/// A registered function with its types erased.
pub(crate) trait StreamFunction: Send + Sync {
    fn process(&self, input: &Batch) -> Result<ProcessOutput, GuestError>;
}

/// `I -> 0..n O`.
pub(crate) struct Transform<I, O, R, F> {
    f: F,
    types: PhantomData<fn(I) -> (O, R)>,
}

impl<I, O, R, F> Transform<I, O, R, F> {
    pub(crate) fn new(f: F) -> Self {
        Transform {
            f,
            types: PhantomData,
        }
    }
}

impl<I, O, R, F> StreamFunction for Transform<I, O, R, F>
where
    I: Model,
    O: Model,
    R: IntoOutputs<O>,
    F: Fn(I) -> R + Send + Sync,
{
    fn process(&self, input: &Batch) -> Result<ProcessOutput, GuestError> {
        run_batch(input, |record: I, out| (self.f)(record).write_outputs(out))
    }
}

/// `I -> nothing`.
pub(crate) struct Consumer<I, R, F> {
    f: F,
    types: PhantomData<fn(I) -> R>,
}

impl<I, R, F> Consumer<I, R, F> {
    pub(crate) fn new(f: F) -> Self {
        Consumer {
            f,
            types: PhantomData,
        }
    }
}

impl<I, R, F> StreamFunction for Consumer<I, R, F>
where
    I: Model,
    R: ConsumerOutcome,
    F: Fn(I) -> R + Send + Sync,
{
    fn process(&self, input: &Batch) -> Result<ProcessOutput, GuestError> {
        run_batch(input, |record: I, _| (self.f)(record).into_outcome())
    }
}

/// The lines of `data` between its newlines, as `data.split(|b| *b == b'\n')` yields them,
/// found with `memchr`: several bytes per step, where a byte-at-a-time loop would pay the
/// runtime's deadline check on every byte.
pub(crate) fn split_lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    memchr::memchr_iter(b'\n', data)
        .chain(std::iter::once(data.len()))
        .map(move |end| {
            let line = &data[start..end];
            start = end + 1;
            line
        })
}

/// The batch loop shared by every function kind.
fn run_batch<I, F>(input: &Batch, mut each: F) -> Result<ProcessOutput, GuestError>
where
    I: DeserializeOwned,
    F: FnMut(I, &mut Outputs<'_>) -> Result<(), String>,
{
    match input.encoding {
        Encoding::Json => {}
    }
    let data = input.data.as_slice();
    let count = input.count;
    // Outputs are usually about as large as inputs; one buffer for the whole batch.
    let mut out_data = Vec::with_capacity(data.len() + data.len() / 2 + 16);
    let mut sources = Vec::with_capacity(count as usize);
    let mut errors = Vec::new();
    let mut seen: u32 = 0;

    if count > 0 {
        let body = data.strip_suffix(b"\n").unwrap_or(data);
        for line in split_lines(body) {
            if seen == count {
                return Err(count_mismatch(count, data));
            }
            let index = seen;
            seen += 1;
            match serde_json::from_slice::<I>(line) {
                Err(e) => errors.push(RecordError {
                    index,
                    message: invalid_record::<I>(line, e),
                }),
                Ok(record) => {
                    let (data_mark, sources_mark) = (out_data.len(), sources.len());
                    let mut out = Outputs {
                        data: &mut out_data,
                        sources: &mut sources,
                        source: index,
                    };
                    if let Err(message) = each(record, &mut out) {
                        // No partial output for a failed record.
                        out_data.truncate(data_mark);
                        sources.truncate(sources_mark);
                        errors.push(RecordError { index, message });
                    }
                }
            }
        }
    } else if !data.iter().all(u8::is_ascii_whitespace) {
        return Err(count_mismatch(count, data));
    }
    if seen != count {
        return Err(count_mismatch(count, data));
    }
    Ok(ProcessOutput {
        output: Batch {
            encoding: Encoding::Json,
            count: sources.len() as u32,
            data: out_data,
        },
        sources,
        errors,
    })
}

/// The message for a line that does not deserialize, naming the field at fault (found by
/// parsing the line again with path tracking: failures are rare, the fast path stays fast).
fn invalid_record<I: DeserializeOwned>(line: &[u8], error: serde_json::Error) -> String {
    if error.classify() == serde_json::error::Category::Data {
        let mut deserializer = serde_json::Deserializer::from_slice(line);
        if let Err(e) = serde_path_to_error::deserialize::<_, I>(&mut deserializer) {
            let path = e.path().to_string();
            if path != "." && !path.contains('?') {
                return format!("invalid input record: field `{path}`: {}", e.inner());
            }
        }
    }
    format!("invalid input record: {error}")
}

fn count_mismatch(count: u32, data: &[u8]) -> GuestError {
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    let lines = if body.is_empty() {
        0
    } else {
        body.iter().filter(|b| **b == b'\n').count() + 1
    };
    GuestError::Failed(format!(
        "batch count is {count} but its data holds {lines} lines"
    ))
}

#[cfg(test)]
mod tests {
    use super::split_lines;

    #[test]
    fn lines_are_split_as_a_byte_split_would() {
        for data in [
            &b""[..],
            b"\n",
            b"\n\n",
            b"{}",
            b"{}\n",
            b"{\"a\":1}\n{\"b\":2}",
            b"\n{}\n\n{}\n",
        ] {
            let expected: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
            assert_eq!(split_lines(data).collect::<Vec<_>>(), expected, "{data:?}");
        }
    }
}
