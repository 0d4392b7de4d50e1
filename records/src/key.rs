//! The stream key of a record, which picks its partition.

use serde_json::Value;

/// The stream key of a record: its key fields' JSON values, separated by 0x1f.
pub fn record_key(record: &Value, key_fields: &[String]) -> Option<Vec<u8>> {
    if key_fields.is_empty() {
        return None;
    }
    let mut key = Vec::new();
    for (i, field) in key_fields.iter().enumerate() {
        if i > 0 {
            key.push(0x1f);
        }
        key.extend_from_slice(
            record
                .get(field)
                .unwrap_or(&Value::Null)
                .to_string()
                .as_bytes(),
        );
    }
    Some(key)
}
