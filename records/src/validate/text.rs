//! Checking a record's text against the model's rules as it is read, without building a
//! JSON value first: the way every record that fits is checked.
//!
//! It only answers "fits" (with the values of the key fields): a record that does not fit,
//! or one it does not decide (a model of more than 128 fields), is checked again the full
//! way ([`super::ModelValidator::validate`]), which names every problem. It is at least as
//! strict as that way: a field named twice at any depth does not fit here.
//!
//! Maps, JSON and geometry values are read into a value and checked the full way (they
//! are rare, and maps need their keys remembered to refuse one named twice); scalars are
//! checked through a value built without allocating, except strings, which share one
//! buffer per record.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::scalar::Check;
use super::{check, FieldRule, Path, Rule};
use crate::parse::StrictValue;

/// Most fields of a record read this way (one bit each of a `u128`).
const MAX_FIELDS: usize = 128;

/// The values of a record's key fields, in the order of the key.
pub(super) struct KeyValues<'k> {
    names: &'k [String],
    values: Vec<Option<Value>>,
}

impl<'k> KeyValues<'k> {
    pub(super) fn new(names: &'k [String]) -> Self {
        Self {
            names,
            values: vec![None; names.len()],
        }
    }

    pub(super) fn values(&self) -> impl Iterator<Item = Option<&Value>> {
        self.values.iter().map(Option::as_ref)
    }
}

/// Whether `raw` is one record of `fields` and nothing else; fills `keys` when it is.
pub(super) fn fits(fields: &[FieldRule], raw: &[u8], keys: &mut KeyValues<'_>) -> bool {
    let mut deserializer = serde_json::Deserializer::from_slice(raw);
    let mut scratch = Value::String(String::new());
    let visitor = RecordVisitor {
        fields,
        keys: Some(keys),
        scratch: &mut scratch,
    };
    deserializer.deserialize_map(visitor).is_ok() && deserializer.end().is_ok()
}

/// The error that stops reading: the caller only learns "does not fit".
fn unfit<E: de::Error>() -> E {
    E::custom("does not fit")
}

/// Checks `value` the full way, keeping only the verdict.
fn fits_value(rule: &Rule, value: &Value) -> bool {
    let mut errors = Vec::new();
    check(rule, value, Path::Root, &mut errors);
    errors.is_empty()
}

struct RecordVisitor<'r, 'k, 's> {
    fields: &'r [FieldRule],
    /// Only at the top of the record.
    keys: Option<&'r mut KeyValues<'k>>,
    scratch: &'s mut Value,
}

impl<'de> Visitor<'de> for RecordVisitor<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let fields = self.fields;
        if fields.len() > MAX_FIELDS {
            return Err(unfit());
        }
        let mut keys = self.keys;
        let mut seen = 0u128;
        while let Some(index) = map.next_key_seed(FieldIndex(fields))? {
            let bit = 1u128 << index;
            if seen & bit != 0 {
                return Err(unfit());
            }
            seen |= bit;
            let field = &fields[index];
            let slot = keys
                .as_deref()
                .and_then(|keys| keys.names.iter().position(|name| *name == field.name));
            match (slot, keys.as_deref_mut()) {
                (Some(slot), Some(keys)) => {
                    let value = map.next_value_seed(StrictValue)?;
                    if !fits_value(&field.ty, &value) {
                        return Err(unfit());
                    }
                    keys.values[slot] = Some(value);
                }
                _ => map.next_value_seed(RuleSeed {
                    rule: &field.ty,
                    scratch: self.scratch,
                })?,
            }
        }
        let missing = fields
            .iter()
            .enumerate()
            .any(|(i, field)| !field.optional && seen & (1u128 << i) == 0);
        if missing {
            return Err(unfit());
        }
        Ok(())
    }
}

/// A key of a record: the index of the field it names (an unknown name does not fit).
struct FieldIndex<'r>(&'r [FieldRule]);

impl<'de> DeserializeSeed<'de> for FieldIndex<'_> {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for FieldIndex<'_> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<usize, E> {
        self.0
            .iter()
            .position(|field| field.name == name)
            .ok_or_else(unfit)
    }
}

/// A value of one rule.
struct RuleSeed<'r, 's> {
    rule: &'r Rule,
    scratch: &'s mut Value,
}

impl<'de> DeserializeSeed<'de> for RuleSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        match self.rule {
            Rule::Nullable(inner) => deserializer.deserialize_option(NullableVisitor {
                inner,
                scratch: self.scratch,
            }),
            Rule::Array(item) => deserializer.deserialize_seq(ArrayVisitor {
                item,
                scratch: self.scratch,
            }),
            Rule::Record(fields) => deserializer.deserialize_map(RecordVisitor {
                fields,
                keys: None,
                scratch: self.scratch,
            }),
            Rule::Map(_) | Rule::Scalar(Check::Json | Check::Geo(_)) => {
                let value = StrictValue.deserialize(deserializer)?;
                if fits_value(self.rule, &value) {
                    Ok(())
                } else {
                    Err(unfit())
                }
            }
            Rule::Scalar(scalar) => deserializer.deserialize_any(ScalarVisitor {
                check: scalar,
                scratch: self.scratch,
            }),
        }
    }
}

struct NullableVisitor<'r, 's> {
    inner: &'r Rule,
    scratch: &'s mut Value,
}

impl<'de> Visitor<'de> for NullableVisitor<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        RuleSeed {
            rule: self.inner,
            scratch: self.scratch,
        }
        .deserialize(deserializer)
    }
}

struct ArrayVisitor<'r, 's> {
    item: &'r Rule,
    scratch: &'s mut Value,
}

impl<'de> Visitor<'de> for ArrayVisitor<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(RuleSeed {
                rule: self.item,
                scratch: self.scratch,
            })?
            .is_some()
        {}
        Ok(())
    }
}

/// A scalar: numbers and booleans become values without allocating; a string is copied
/// into the record's one string buffer.
struct ScalarVisitor<'r, 's> {
    check: &'r Check,
    scratch: &'s mut Value,
}

impl ScalarVisitor<'_, '_> {
    fn verdict<E: de::Error>(&self, value: &Value) -> Result<(), E> {
        self.check.check(value).map_err(|_| unfit())
    }
}

impl<'de> Visitor<'de> for ScalarVisitor<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scalar")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.verdict(&Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.verdict(&Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.verdict(&Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        match serde_json::Number::from_f64(v) {
            Some(n) => self.verdict(&Value::Number(n)),
            None => Err(unfit()),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        if let Value::String(text) = &mut *self.scratch {
            text.clear();
            text.push_str(v);
        }
        self.verdict(self.scratch)
    }
}
