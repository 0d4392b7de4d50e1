//! Whether a column of one ClickHouse type can be written into a column of another, as a
//! materialized view writes its SELECT's result into its target table.
//!
//! ClickHouse converts each result column to the target column's type on insert. Within a
//! family (numbers, strings, times) and through `Nullable`, `LowCardinality` and
//! `SimpleAggregateFunction` that conversion works; across families it fails at insert
//! time, and an `AggregateFunction` state converts to nothing but the same state. The rule
//! here is deliberately strict outside the families: a cast in the SELECT states intent.

use crate::type_text::{Quotes, TypeText};

/// The family a plain type converts within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Number,
    Text,
    Time,
}

fn family(name: &str) -> Option<Family> {
    let number = name.starts_with("Int")
        || name.starts_with("UInt")
        || name.starts_with("Float")
        || name.starts_with("Decimal")
        || name == "Bool";
    if number {
        return Some(Family::Number);
    }
    match name {
        "String" | "FixedString" | "Enum8" | "Enum16" | "Enum" => Some(Family::Text),
        "Date" | "Date32" | "DateTime" | "DateTime64" => Some(Family::Time),
        _ => None,
    }
}

/// What a geo type is stored as: `Point` is a `Tuple(Float64, Float64)`, the others
/// arrays of the shape one level down.
fn geo_storage(name: &str) -> Option<&'static str> {
    match name {
        "Point" => Some("Tuple(Float64, Float64)"),
        "Ring" | "LineString" => Some("Array(Point)"),
        "Polygon" | "MultiLineString" => Some("Array(Ring)"),
        "MultiPolygon" => Some("Array(Polygon)"),
        _ => None,
    }
}

/// The type without spaces outside quotes, so `Tuple(a String, b UInt8)` and
/// `Tuple(a String,b UInt8)` compare equal.
fn normalized(text: &str) -> String {
    let mut quotes = Quotes::default();
    text.trim()
        .chars()
        .filter(|&c| quotes.quoted(c) || !c.is_whitespace())
        .collect()
}

/// Whether a column of type `source` can be inserted into a column of type `target`
/// (both as the server spells them).
pub fn fits(source: &str, target: &str) -> bool {
    if normalized(source) == normalized(target) {
        return true;
    }
    let (s, t) = (TypeText::parse(source), TypeText::parse(target));
    if let Some(source) = geo_storage(s.name) {
        return fits(source, target);
    }
    if let Some(target) = geo_storage(t.name) {
        return fits(source, target);
    }
    match (s.name, t.name) {
        // `NULL` in a SELECT: a default in any column.
        ("Nothing", _) => true,
        ("LowCardinality", _) => s.arg_type(0).is_some_and(|s| fits(&text_of(&s), target)),
        (_, "LowCardinality") => t.arg_type(0).is_some_and(|t| fits(source, &text_of(&t))),
        ("AggregateFunction", _) | (_, "AggregateFunction") => false,
        (_, "Nullable") => t.arg_type(0).is_some_and(|t| fits(source, &text_of(&t))),
        ("Nullable", _) => s.arg_type(0).is_some_and(|s| fits(&text_of(&s), target)),
        (_, "SimpleAggregateFunction") => t.arg_type(1).is_some_and(|t| fits(source, &text_of(&t))),
        ("SimpleAggregateFunction", _) => s.arg_type(1).is_some_and(|s| fits(&text_of(&s), target)),
        ("Array", "Array") => pairwise(&s, &t, 1),
        ("Map", "Map") => pairwise(&s, &t, 2),
        ("Tuple", "Tuple") => s.args.len() == t.args.len() && pairwise(&s, &t, s.args.len()),
        (a, b) => family(a).is_some() && family(a) == family(b),
    }
}

/// The first `count` argument types of `s` each fit those of `t`.
fn pairwise(s: &TypeText<'_>, t: &TypeText<'_>, count: usize) -> bool {
    (0..count).all(|i| match (s.arg_type(i), t.arg_type(i)) {
        (Some(a), Some(b)) => fits(&text_of(&a), &text_of(&b)),
        _ => false,
    })
}

/// A parsed type back as text.
fn text_of(ty: &TypeText<'_>) -> String {
    if ty.args.is_empty() {
        ty.name.to_string()
    } else {
        format!("{}({})", ty.name, ty.args.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_types_fit_whatever_their_spacing() {
        assert!(fits(
            "AggregateFunction(uniq, String)",
            "AggregateFunction(uniq,String)"
        ));
        assert!(fits("Tuple(a String, b UInt8)", "Tuple(a String,b UInt8)"));
        assert!(fits("Enum8('a b' = 1)", "Enum8('a b' = 1)"));
    }

    #[test]
    fn geo_types_fit_what_they_are_stored_as() {
        assert!(fits("Tuple(Float64, Float64)", "Point"));
        assert!(fits("Array(Tuple(Float64, Float64))", "Ring"));
        assert!(fits("Ring", "LineString"));
        assert!(fits("Array(Array(Tuple(Float64, Float64)))", "Polygon"));
        assert!(fits("MultiPolygon", "Array(Polygon)"));
        assert!(!fits("Point", "Ring"));
        assert!(!fits("Array(Tuple(String, Float64))", "Ring"));
        assert!(fits("Int32", "Int256"));
        assert!(!fits("String", "IPv4"));
    }

    #[test]
    fn an_aggregate_state_fits_only_the_same_state() {
        assert!(!fits("AggregateFunction(uniq, String)", "UInt64"));
        assert!(!fits("UInt64", "AggregateFunction(uniq, String)"));
        assert!(!fits(
            "AggregateFunction(uniq, String)",
            "AggregateFunction(uniqExact, String)"
        ));
        assert!(!fits(
            "AggregateFunction(uniq, String)",
            "Nullable(AggregateFunction(uniq, UInt64))"
        ));
    }

    #[test]
    fn values_convert_within_a_family_and_through_wrappers() {
        for (source, target) in [
            ("UInt64", "UInt32"),
            ("Float64", "Decimal(18, 2)"),
            ("Int64", "Nullable(Float64)"),
            ("Nullable(UInt8)", "UInt16"),
            ("LowCardinality(String)", "String"),
            ("String", "LowCardinality(Nullable(String))"),
            ("Enum8('a' = 1)", "String"),
            ("Date", "DateTime64(3)"),
            ("DateTime('UTC')", "Date"),
            ("UInt64", "SimpleAggregateFunction(sum, UInt64)"),
            ("SimpleAggregateFunction(max, Float64)", "Float32"),
            ("Array(UInt8)", "Array(Int64)"),
            ("Map(String, UInt8)", "Map(String, Float64)"),
            ("Tuple(UInt8, String)", "Tuple(a Int64, b String)"),
            ("Nullable(Nothing)", "Nullable(String)"),
        ] {
            assert!(fits(source, target), "{source} into {target}");
        }
    }

    #[test]
    fn values_do_not_convert_across_families() {
        for (source, target) in [
            ("String", "UInt64"),
            ("Date", "String"),
            ("UInt64", "DateTime"),
            ("Array(String)", "Array(UInt8)"),
            ("Array(String)", "String"),
            ("Tuple(UInt8)", "Tuple(UInt8, UInt8)"),
            ("UUID", "String"),
            ("Nullable(String)", "Float64"),
        ] {
            assert!(!fits(source, target), "{source} into {target}");
        }
    }

    #[test]
    fn arguments_split_at_top_level_only() {
        let ty = TypeText::parse("Map(String, Tuple(a Enum8('x, y' = 1), b Array(UInt8)))");
        assert_eq!(ty.name, "Map");
        assert_eq!(
            ty.args,
            vec!["String", "Tuple(a Enum8('x, y' = 1), b Array(UInt8))"]
        );
        let tuple = ty.arg_type(1).expect("a tuple");
        assert_eq!(tuple.arg_type(0).expect("a").name, "Enum8");
        assert_eq!(tuple.arg_type(1).expect("b").name, "Array");
    }
}
