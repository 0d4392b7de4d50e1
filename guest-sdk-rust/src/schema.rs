//! Mapping Rust types to model schemas.
//!
//! Every type that can appear in a model field implements [`MooseType`]; structs and
//! unit enums get it from `#[derive(Model)]`. A struct deriving `Model` also implements
//! [`Model`], which describes its columns.

use std::collections::{BTreeMap, HashMap};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::defs::{DataType, DecimalSpec, ModelDef, ScalarType, TypeWrapper};

/// A Rust type with a column type.
///
/// Implemented for the scalar types of the SDK's type table, for `Vec<T>`, `Option<T>`,
/// `HashMap<String, T>`/`BTreeMap<String, T>` and `Box<T>`, and by `#[derive(Model)]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no Moose column type",
    note = "derive `Model` on structs and unit enums, or use a type from the moose_guest type table"
)]
pub trait MooseType {
    /// True only for `Option<T>`: the value may be absent.
    const OPTIONAL: bool = false;

    /// The column type of this Rust type.
    fn data_type() -> DataType;

    /// Adds the models this type refers to (nested structs) to `models`.
    fn collect_models(models: &mut ModelSet) {
        let _ = models;
    }
}

/// A struct usable as the schema of a stream, a table, a nested record or API rows.
///
/// Implement it with `#[derive(Model)]` (plus serde's `Serialize` and `Deserialize`).
pub trait Model: MooseType + Serialize + DeserializeOwned + 'static {
    /// The model's name (the struct name unless `#[moose(name = "...")]`).
    const NAME: &'static str;

    /// How other definitions refer to the model: `NAME`, or `NAME@version` when the model
    /// has `#[moose(version = "...")]`.
    const REF: &'static str;

    /// The model's schema.
    fn model_def() -> ModelDef;
}

/// The models of an app, in the order they were first seen, at most one per reference
/// (`name` or `name@version`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelSet {
    models: Vec<ModelDef>,
}

impl ModelSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `T` and every model it refers to.
    pub fn add_model<T: Model>(&mut self) {
        T::collect_models(self);
    }

    /// Adds `def`; returns false when a model with its reference is already present.
    ///
    /// # Panics
    /// When a different model with the same reference is present: two Rust types would
    /// map to one model, which is a mistake in the app declaration.
    pub fn add(&mut self, def: ModelDef) -> bool {
        let reference = def.reference();
        match self.models.iter().find(|m| m.reference() == reference) {
            None => {
                self.models.push(def);
                true
            }
            Some(existing) if *existing == def => false,
            Some(_) => panic!(
                "two different models are named `{reference}`; give one of them #[moose(name = \"...\")] or a version"
            ),
        }
    }

    /// Whether a model with this reference (`name` or `name@version`) is present.
    pub fn contains(&self, reference: &str) -> bool {
        self.models.iter().any(|m| m.reference() == reference)
    }

    /// The models.
    pub fn as_slice(&self) -> &[ModelDef] {
        &self.models
    }

    /// The models, by value.
    pub fn into_vec(self) -> Vec<ModelDef> {
        self.models
    }
}

macro_rules! scalar {
    ($($ty:ty => $leaf:ident),* $(,)?) => {
        $(impl MooseType for $ty {
            fn data_type() -> DataType {
                DataType::scalar(ScalarType::$leaf)
            }
        })*
    };
}

scalar! {
    String => String,
    i8 => Int8,
    i16 => Int16,
    i32 => Int32,
    i64 => Int64,
    u8 => UInt8,
    u16 => UInt16,
    u32 => UInt32,
    u64 => UInt64,
    f32 => Float32,
    f64 => Float64,
    bool => Boolean,
    crate::types::Date => Date,
    crate::types::DateTime => DateTime,
    chrono::NaiveDate => Date,
    chrono::DateTime<chrono::Utc> => DateTime,
    uuid::Uuid => Uuid,
    serde_json::Value => Json,
    i128 => Int128,
    u128 => UInt128,
    crate::types::Int256 => Int256,
    crate::types::UInt256 => UInt256,
    std::net::Ipv4Addr => Ipv4,
    std::net::Ipv6Addr => Ipv6,
}

macro_rules! geo {
    ($($ty:ident),* $(,)?) => {
        $(impl MooseType for crate::types::$ty {
            fn data_type() -> DataType {
                DataType::scalar(ScalarType::Geo(crate::defs::GeoShape::$ty))
            }
        })*
    };
}

geo!(
    Point,
    Ring,
    LineString,
    MultiLineString,
    Polygon,
    MultiPolygon
);

impl<const P: u8, const S: u8> MooseType for crate::types::Decimal<P, S> {
    fn data_type() -> DataType {
        let () = Self::VALID;
        DataType::scalar(ScalarType::Decimal(DecimalSpec {
            precision: P,
            scale: S,
        }))
    }
}

impl<T: MooseType> MooseType for Vec<T> {
    fn data_type() -> DataType {
        T::data_type().wrapped(TypeWrapper::Array)
    }
    fn collect_models(models: &mut ModelSet) {
        T::collect_models(models)
    }
}

impl<T: MooseType> MooseType for Option<T> {
    const OPTIONAL: bool = true;
    fn data_type() -> DataType {
        T::data_type().wrapped(TypeWrapper::Nullable)
    }
    fn collect_models(models: &mut ModelSet) {
        T::collect_models(models)
    }
}

impl<T: MooseType, H> MooseType for HashMap<String, T, H> {
    fn data_type() -> DataType {
        T::data_type().wrapped(TypeWrapper::Map)
    }
    fn collect_models(models: &mut ModelSet) {
        T::collect_models(models)
    }
}

impl<T: MooseType> MooseType for BTreeMap<String, T> {
    fn data_type() -> DataType {
        T::data_type().wrapped(TypeWrapper::Map)
    }
    fn collect_models(models: &mut ModelSet) {
        T::collect_models(models)
    }
}

impl<T: MooseType> MooseType for Box<T> {
    const OPTIONAL: bool = T::OPTIONAL;
    fn data_type() -> DataType {
        T::data_type()
    }
    fn collect_models(models: &mut ModelSet) {
        T::collect_models(models)
    }
}

/// Types whose innermost type is `String`: the ones `#[moose(low_cardinality)]` and
/// `#[moose(fixed_string = N)]` accept.
#[diagnostic::on_unimplemented(
    message = "#[moose(low_cardinality)] and #[moose(fixed_string = N)] need a String field (possibly in Vec, Option or a map), not `{Self}`"
)]
pub trait StringLeaf {}
/// Types whose innermost type is [`DateTime`](crate::DateTime): the ones
/// `#[moose(datetime64 = P)]` accepts.
#[diagnostic::on_unimplemented(
    message = "#[moose(datetime64 = P)] needs a DateTime field (possibly in Vec, Option or a map), not `{Self}`"
)]
pub trait DateTimeLeaf {}

impl StringLeaf for String {}
impl DateTimeLeaf for crate::types::DateTime {}
impl DateTimeLeaf for chrono::DateTime<chrono::Utc> {}

macro_rules! leaf_through_wrappers {
    ($($tr:ident),*) => {
        $(
            impl<T: $tr> $tr for Vec<T> {}
            impl<T: $tr> $tr for Option<T> {}
            impl<T: $tr> $tr for Box<T> {}
            impl<T: $tr, H> $tr for HashMap<String, T, H> {}
            impl<T: $tr> $tr for BTreeMap<String, T> {}
        )*
    };
}
leaf_through_wrappers!(StringLeaf, DateTimeLeaf);

/// `data_type` with its `String` leaf turned into `LowCardinality(String)`.
pub fn low_cardinality(mut data_type: DataType) -> DataType {
    if data_type.leaf == ScalarType::String {
        data_type.leaf = ScalarType::LowCardinalityString;
    }
    data_type
}

/// `data_type` with its `String` leaf turned into `FixedString(bytes)`.
pub fn fixed_string(mut data_type: DataType, bytes: u32) -> DataType {
    if data_type.leaf == ScalarType::String {
        data_type.leaf = ScalarType::FixedString(bytes);
    }
    data_type
}

/// `data_type` with its `DateTime` leaf turned into `DateTime64(precision)`.
pub fn datetime64(mut data_type: DataType, precision: u8) -> DataType {
    if data_type.leaf == ScalarType::DateTime {
        data_type.leaf = ScalarType::DateTime64(precision);
    }
    data_type
}

/// Support for code generated by the derives; not a public API.
#[doc(hidden)]
pub mod __derive {
    /// Compile-time check that `T` has a `String` leaf.
    pub fn assert_string_leaf<T: super::StringLeaf + ?Sized>() {}
    /// Compile-time check that `T` has a `DateTime` leaf.
    pub fn assert_datetime_leaf<T: super::DateTimeLeaf + ?Sized>() {}
}
