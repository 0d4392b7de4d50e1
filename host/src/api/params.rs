//! Query-string parameters checked against an API's declared parameters and turned into
//! the typed JSON object its handler receives.

use serde_json::{Map, Number, Value};

use moose_model::types::{ApiParam, ScalarType, TypeWrapper};
use moose_records::{check_scalar, ValueError};

/// A parameter that is missing, unknown or has a bad value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("parameter `{param}`: {problem}")]
pub struct ParamError {
    pub param: String,
    pub problem: ParamProblem,
}

/// What is wrong with one parameter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamProblem {
    #[error("is not a parameter of this API (it takes: {known})")]
    Unknown {
        /// The API's parameters, comma-separated.
        known: String,
    },
    #[error("is required")]
    Missing,
    #[error("is given more than once")]
    Repeated,
    #[error("{0:?} is not true or false")]
    NotBoolean(String),
    #[error("{0:?} is not a number")]
    NotNumber(String),
    #[error("{text} is below the minimum {min}")]
    BelowMinimum { text: String, min: f64 },
    #[error("{text} is above the maximum {max}")]
    AboveMaximum { text: String, max: f64 },
    #[error(transparent)]
    Value(#[from] ValueError),
}

/// Checks `query` (name/value pairs in order; a repeated name gives an array parameter
/// several values) against `declared`. Absent optional parameters take their default, or
/// null.
pub fn parse_params(
    declared: &[ApiParam],
    query: &[(String, String)],
) -> Result<Value, ParamError> {
    if let Some((name, _)) = query
        .iter()
        .find(|(name, _)| !declared.iter().any(|p| &p.name == name))
    {
        let known: Vec<&str> = declared.iter().map(|p| p.name.as_str()).collect();
        return Err(ParamError {
            param: name.clone(),
            problem: ParamProblem::Unknown {
                known: known.join(", "),
            },
        });
    }
    let mut object = Map::new();
    for param in declared {
        let error = |problem: ParamProblem| ParamError {
            param: param.name.clone(),
            problem,
        };
        let mut given: Vec<&str> = query
            .iter()
            .filter(|(name, _)| name == &param.name)
            .map(|(_, value)| value.as_str())
            .collect();
        if given.is_empty() {
            match &param.default {
                Some(default) => given.push(default),
                None if param.required => return Err(error(ParamProblem::Missing)),
                None => {
                    object.insert(param.name.clone(), Value::Null);
                    continue;
                }
            }
        }
        let is_array = param.data_type.wrappers.contains(&TypeWrapper::Array);
        let values = given
            .iter()
            .map(|text| scalar_value(param, text).map_err(error))
            .collect::<Result<Vec<_>, _>>()?;
        let value = if is_array {
            Value::Array(values)
        } else if values.len() > 1 {
            return Err(error(ParamProblem::Repeated));
        } else {
            values.into_iter().next().unwrap_or(Value::Null)
        };
        object.insert(param.name.clone(), value);
    }
    Ok(Value::Object(object))
}

fn scalar_value(param: &ApiParam, text: &str) -> Result<Value, ParamProblem> {
    let leaf = &param.data_type.leaf;
    let value = match leaf {
        ScalarType::Boolean => match text {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            _ => return Err(ParamProblem::NotBoolean(text.to_string())),
        },
        _ if leaf.is_number() => text
            .parse::<i64>()
            .map(Number::from)
            .or_else(|_| text.parse::<u64>().map(Number::from))
            .ok()
            .map(Value::Number)
            .or_else(|| {
                // Integers wider than 64 bits stay digits; JSON numbers would round them.
                let wide = matches!(
                    leaf,
                    ScalarType::Int128
                        | ScalarType::Int256
                        | ScalarType::Uint128
                        | ScalarType::Uint256
                );
                if wide {
                    Some(Value::String(text.to_string()))
                } else {
                    text.parse::<f64>()
                        .ok()
                        .and_then(Number::from_f64)
                        .map(Value::Number)
                }
            })
            .ok_or_else(|| ParamProblem::NotNumber(text.to_string()))?,
        _ => Value::String(text.to_string()),
    };
    check_scalar(leaf, &value)?;
    let number = match &value {
        Value::String(digits) if leaf.is_number() => digits.parse::<f64>().ok(),
        other => other.as_f64(),
    };
    if let Some(number) = number {
        if let Some(min) = param.min.filter(|min| number < *min) {
            return Err(ParamProblem::BelowMinimum {
                text: text.to_string(),
                min,
            });
        }
        if let Some(max) = param.max.filter(|max| number > *max) {
            return Err(ParamProblem::AboveMaximum {
                text: text.to_string(),
                max,
            });
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use moose_model::types::{DataType, EnumMember};
    use serde_json::json;

    fn param(name: &str, leaf: ScalarType, required: bool, default: Option<&str>) -> ApiParam {
        ApiParam {
            name: name.into(),
            data_type: DataType::new(vec![], leaf),
            required,
            default: default.map(Into::into),
            min: None,
            max: None,
            doc: None,
        }
    }

    fn declared() -> Vec<ApiParam> {
        let mut limit = param("limit", ScalarType::Uint32, false, Some("100"));
        limit.min = Some(1.0);
        limit.max = Some(10_000.0);
        let mut ids = param("id", ScalarType::Int64, false, None);
        ids.data_type.wrappers = vec![TypeWrapper::Array];
        vec![
            param("customer", ScalarType::String, true, None),
            param("from", ScalarType::Date, false, None),
            limit,
            param(
                "tier",
                ScalarType::Enum(vec![EnumMember {
                    name: "gold".into(),
                    value: 1,
                }]),
                false,
                None,
            ),
            param("active", ScalarType::Boolean, false, None),
            ids,
        ]
    }

    fn parse(query: &[(&str, &str)]) -> Result<Value, String> {
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse_params(&declared(), &query).map_err(|e| e.to_string())
    }

    #[test]
    fn types_values_and_fills_defaults() {
        assert_eq!(
            parse(&[
                ("customer", "acme' OR 1=1"),
                ("id", "1"),
                ("id", "2"),
                ("active", "true")
            ]),
            Ok(
                json!({"customer": "acme' OR 1=1", "from": null, "limit": 100, "tier": null,
                      "active": true, "id": [1, 2]})
            )
        );
    }

    #[test]
    fn names_the_bad_parameter() {
        let cases: [(&[(&str, &str)], &str); 7] = [
            (&[], "parameter `customer`: is required"),
            (
                &[("customer", "a"), ("limit", "0")],
                "parameter `limit`: 0 is below the minimum 1",
            ),
            (
                &[("customer", "a"), ("limit", "20000")],
                "parameter `limit`: 20000 is above the maximum 10000",
            ),
            (
                &[("customer", "a"), ("limit", "ten")],
                "parameter `limit`: \"ten\" is not a number",
            ),
            (
                &[("customer", "a"), ("from", "May 1")],
                "parameter `from`: \"May 1\" is not a date",
            ),
            (
                &[("customer", "a"), ("tier", "tin")],
                "parameter `tier`: \"tin\" is not one of gold",
            ),
            (
                &[("customer", "a"), ("colour", "red")],
                "parameter `colour`: is not a parameter of this API",
            ),
        ];
        for (query, expected) in cases {
            let found = parse(query).expect_err("bad parameters");
            assert!(found.contains(expected), "{query:?}: {found}");
        }
        let twice = parse(&[("customer", "a"), ("customer", "b")]).expect_err("twice");
        assert!(twice.contains("more than once"), "{twice}");
    }

    #[test]
    fn integers_beyond_64_bits_stay_exact_digits() {
        let mut big = param("big", ScalarType::Uint256, true, None);
        big.min = Some(10.0);
        let declared = [big, param("ip", ScalarType::Ipv4, false, None)];
        let parse = |query: &[(&str, &str)]| {
            let query: Vec<(String, String)> = query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            parse_params(&declared, &query).map_err(|e| e.to_string())
        };
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        assert_eq!(
            parse(&[("big", max), ("ip", "10.0.0.1")]),
            Ok(json!({"big": max, "ip": "10.0.0.1"}))
        );
        assert_eq!(parse(&[("big", "12")]), Ok(json!({"big": 12, "ip": null})));
        let over = format!("{max}0");
        let problem = parse(&[("big", &over)]).expect_err("out of range");
        assert!(problem.contains("is out of range for UInt256"), "{problem}");
        let below = parse(&[("big", "9")]).expect_err("below the minimum");
        assert!(below.contains("below the minimum 10"), "{below}");
        let ip = parse(&[("big", "12"), ("ip", "10.0.0.256")]).expect_err("bad address");
        assert!(ip.contains("is not an IPv4 address"), "{ip}");
    }
}
