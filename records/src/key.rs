//! The stream key of a record, which picks its partition.

use serde_json::Value;

/// The stream key of a record: its key fields' JSON values, separated by 0x1f.
pub fn record_key(record: &Value, key_fields: &[String]) -> Option<Vec<u8>> {
    if key_fields.is_empty() {
        return None;
    }
    Some(join_key(key_fields.iter().map(|field| record.get(field))))
}

/// Key field values (absent ones as `null`) joined into a stream key.
pub(crate) fn join_key<'v>(values: impl Iterator<Item = Option<&'v Value>>) -> Vec<u8> {
    let mut key = Vec::new();
    for (i, value) in values.enumerate() {
        if i > 0 {
            key.push(0x1f);
        }
        key.extend_from_slice(value.unwrap_or(&Value::Null).to_string().as_bytes());
    }
    key
}
