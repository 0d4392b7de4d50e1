//! [`Date`] and [`DateTime`]: chrono values with a fast, fixed JSON form.
//!
//! Both deref to their chrono type, so chrono's methods work on them. Parsing and
//! printing the common forms is hand-written (it is on every record of a batch);
//! anything unusual falls back to chrono.

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeDelta, Timelike, Utc};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Why a date or timestamp did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeParseError(String);

impl fmt::Display for TimeParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TimeParseError {}

/// A calendar date, `Date` in ClickHouse; JSON `"YYYY-MM-DD"`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(NaiveDate);

/// A UTC timestamp, `DateTime` in ClickHouse; JSON RFC 3339 such as
/// `"2024-05-01T12:00:00Z"`.
///
/// Printing uses `Z` and adds fractional seconds only when they are non-zero (3, 6 or 9
/// digits). Parsing accepts any RFC 3339 offset (converted to UTC), a space instead of
/// `T`, and no offset at all (read as UTC, as ClickHouse prints `DateTime` columns).
/// Add `#[moose(datetime64 = P)]` to the field for `DateTime64(P)`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime(chrono::DateTime<Utc>);

impl Date {
    /// The date, if it exists.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Self> {
        NaiveDate::from_ymd_opt(year, month, day).map(Date)
    }

    /// The chrono value.
    pub fn naive(self) -> NaiveDate {
        self.0
    }
}

impl DateTime {
    /// The timestamp `seconds` and `nanos` after the Unix epoch, if representable.
    pub fn from_timestamp(seconds: i64, nanos: u32) -> Option<Self> {
        chrono::DateTime::from_timestamp(seconds, nanos).map(DateTime)
    }

    /// The UTC calendar date.
    pub fn date(self) -> Date {
        Date(self.0.date_naive())
    }

    /// The chrono value.
    pub fn utc(self) -> chrono::DateTime<Utc> {
        self.0
    }
}

impl Deref for Date {
    type Target = NaiveDate;
    fn deref(&self) -> &NaiveDate {
        &self.0
    }
}

impl Deref for DateTime {
    type Target = chrono::DateTime<Utc>;
    fn deref(&self) -> &chrono::DateTime<Utc> {
        &self.0
    }
}

impl From<NaiveDate> for Date {
    fn from(d: NaiveDate) -> Self {
        Date(d)
    }
}

impl From<Date> for NaiveDate {
    fn from(d: Date) -> Self {
        d.0
    }
}

impl From<chrono::DateTime<Utc>> for DateTime {
    fn from(t: chrono::DateTime<Utc>) -> Self {
        DateTime(t)
    }
}

impl From<DateTime> for chrono::DateTime<Utc> {
    fn from(t: DateTime) -> Self {
        t.0
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

fn parse_date_fast(b: &[u8]) -> Option<NaiveDate> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(&b[0..4])?;
    NaiveDate::from_ymd_opt(year as i32, digits(&b[5..7])?, digits(&b[8..10])?)
}

fn parse_datetime_fast(b: &[u8]) -> Option<chrono::DateTime<Utc>> {
    if b.len() < 19 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let date = parse_date_fast(&b[0..10])?;
    let (hour, minute, second) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    let mut rest = &b[19..];
    let mut nanos = 0u32;
    if let Some((b'.', tail)) = rest.split_first() {
        let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return None;
        }
        nanos = digits(&tail[..n])? * 10u32.pow(9 - n as u32);
        rest = &tail[n..];
    }
    let offset_seconds: i64 = match rest {
        b"" | b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = digits(&[*h1, *h2])?;
            let minutes = digits(&[*m1, *m2])?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = i64::from(hours * 3600 + minutes * 60);
            if *sign == b'-' {
                -seconds
            } else {
                seconds
            }
        }
        _ => return None,
    };
    let local = date.and_hms_nano_opt(hour, minute, second, nanos)?;
    let utc = local.checked_sub_signed(TimeDelta::seconds(offset_seconds))?;
    Some(utc.and_utc())
}

/// Writes `YYYY-MM-DD` into `out`; false when the year needs another form.
fn write_date(out: &mut Vec<u8>, d: NaiveDate) -> bool {
    let year = d.year();
    if !(0..=9999).contains(&year) {
        return false;
    }
    let year = year as u32;
    push2(out, year / 100);
    push2(out, year % 100);
    out.push(b'-');
    push2(out, d.month());
    out.push(b'-');
    push2(out, d.day());
    true
}

fn push2(out: &mut Vec<u8>, n: u32) {
    out.push(b'0' + (n / 10) as u8);
    out.push(b'0' + (n % 10) as u8);
}

/// Writes `YYYY-MM-DD<sep>hh:mm:ss[.fff|.ffffff|.fffffffff]`; false for unusual values.
fn write_datetime(out: &mut Vec<u8>, t: NaiveDateTime, sep: u8) -> bool {
    let nanos = t.nanosecond();
    if nanos >= 1_000_000_000 || !write_date(out, t.date()) {
        return false;
    }
    out.push(sep);
    push2(out, t.hour());
    out.push(b':');
    push2(out, t.minute());
    out.push(b':');
    push2(out, t.second());
    let (value, width) = if nanos == 0 {
        (0, 0)
    } else if nanos.is_multiple_of(1_000_000) {
        (nanos / 1_000_000, 3)
    } else if nanos.is_multiple_of(1_000) {
        (nanos / 1_000, 6)
    } else {
        (nanos, 9)
    };
    if width > 0 {
        out.push(b'.');
        for i in (0..width).rev() {
            out.push(b'0' + (value / 10u32.pow(i) % 10) as u8);
        }
    }
    true
}

impl DateTime {
    /// `YYYY-MM-DD hh:mm:ss[.fraction]` in UTC, as ClickHouse reads `DateTime` text.
    pub(crate) fn clickhouse_text(self) -> String {
        let mut out = Vec::with_capacity(32);
        if write_datetime(&mut out, self.0.naive_utc(), b' ') {
            String::from_utf8(out).unwrap_or_default()
        } else {
            self.0.format("%Y-%m-%d %H:%M:%S%.f").to_string()
        }
    }

    fn with_rfc3339<R>(self, f: impl FnOnce(&str) -> R) -> R {
        let mut out = Vec::with_capacity(32);
        if write_datetime(&mut out, self.0.naive_utc(), b'T') {
            out.push(b'Z');
            if let Ok(s) = std::str::from_utf8(&out) {
                return f(s);
            }
        }
        f(&self.0.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    }
}

impl Date {
    fn with_iso<R>(self, f: impl FnOnce(&str) -> R) -> R {
        let mut out = Vec::with_capacity(10);
        if write_date(&mut out, self.0) {
            if let Ok(s) = std::str::from_utf8(&out) {
                return f(s);
            }
        }
        f(&self.0.format("%Y-%m-%d").to_string())
    }
}

impl FromStr for Date {
    type Err = TimeParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match parse_date_fast(s.as_bytes()) {
            Some(d) => Ok(Date(d)),
            None => NaiveDate::from_str(s)
                .map(Date)
                .map_err(|e| TimeParseError(format!("invalid date {s:?}: {e}"))),
        }
    }
}

impl FromStr for DateTime {
    type Err = TimeParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(t) = parse_datetime_fast(s.as_bytes()) {
            return Ok(DateTime(t));
        }
        chrono::DateTime::<chrono::FixedOffset>::from_str(s)
            .map(|t| DateTime(t.with_timezone(&Utc)))
            .map_err(|e| TimeParseError(format!("invalid date-time {s:?}: {e}")))
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_iso(|s| f.write_str(s))
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Date({self})")
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_rfc3339(|s| f.write_str(s))
    }
}

impl fmt::Debug for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DateTime({self})")
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.with_iso(|s| serializer.serialize_str(s))
    }
}

impl Serialize for DateTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.with_rfc3339(|s| serializer.serialize_str(s))
    }
}

struct FromStrVisitor<T>(std::marker::PhantomData<T>, &'static str);

impl<T> Visitor<'_> for FromStrVisitor<T>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.1)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(FromStrVisitor(
            std::marker::PhantomData,
            "a date string \"YYYY-MM-DD\"",
        ))
    }
}

impl<'de> Deserialize<'de> for DateTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(FromStrVisitor(
            std::marker::PhantomData,
            "an RFC 3339 date-time string",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime {
        s.parse().unwrap()
    }

    #[test]
    fn datetime_wire_form() {
        assert_eq!(
            t("2024-05-01T14:00:00+02:00").to_string(),
            "2024-05-01T12:00:00Z"
        );
        assert_eq!(
            t("2024-05-01T00:30:00-01:00").to_string(),
            "2024-05-01T01:30:00Z"
        );
        assert_eq!(
            t("2024-05-01T12:00:00.250Z").to_string(),
            "2024-05-01T12:00:00.250Z"
        );
        assert_eq!(
            t("2024-05-01T12:00:00.25Z").to_string(),
            "2024-05-01T12:00:00.250Z"
        );
        assert_eq!(
            t("2024-05-01T12:00:00.000001Z").to_string(),
            "2024-05-01T12:00:00.000001Z"
        );
        assert_eq!(
            t("2024-05-01T12:00:00.123456789Z").to_string(),
            "2024-05-01T12:00:00.123456789Z"
        );
        assert_eq!(
            t("2024-05-01T12:00:00.000Z").to_string(),
            "2024-05-01T12:00:00Z"
        );
        assert_eq!(t("2024-05-01 12:00:00").to_string(), "2024-05-01T12:00:00Z");
        assert_eq!(
            t("2024-05-01t12:00:00z").to_string(),
            "2024-05-01T12:00:00Z"
        );
        let json = serde_json::to_string(&t("2024-05-01T12:00:00Z")).unwrap();
        assert_eq!(json, "\"2024-05-01T12:00:00Z\"");
        let back: DateTime = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t("2024-05-01T12:00:00Z"));
    }

    #[test]
    fn datetime_agrees_with_chrono() {
        for s in [
            "2024-02-29T23:59:59.999999999+05:30",
            "1970-01-01T00:00:00Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.5-00:00",
            "2016-12-31T23:59:60Z",
            "2024-05-01T12:00:00+0200",
        ] {
            let ours = t(s);
            let chrono = chrono::DateTime::parse_from_rfc3339(s)
                .or_else(|_| chrono::DateTime::<chrono::FixedOffset>::from_str(s))
                .unwrap()
                .with_timezone(&Utc);
            assert_eq!(ours.utc(), chrono, "{s}");
            assert_eq!(
                ours.to_string(),
                chrono.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                "{s}"
            );
        }
    }

    #[test]
    fn datetime_rejects_garbage() {
        for s in [
            "",
            "2024-05-01",
            "2024-13-01T00:00:00Z",
            "2024-05-01T25:00:00Z",
            "2024-05-01T12:00:00+24:00",
            "2024-05-01T12:00:00.Z",
            "2024-05-01T12:00:00 XYZ",
        ] {
            assert!(s.parse::<DateTime>().is_err(), "{s}");
        }
        let e = serde_json::from_str::<DateTime>("\"x\"").unwrap_err();
        assert!(e.to_string().starts_with("invalid date-time \"x\""), "{e}");
        assert!(serde_json::from_str::<DateTime>("12").is_err());
    }

    #[test]
    fn date_wire_form() {
        let d: Date = serde_json::from_str("\"2024-05-01\"").unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"2024-05-01\"");
        assert_eq!(d, Date::from_ymd(2024, 5, 1).unwrap());
        assert_eq!(d.to_string(), "2024-05-01");
        assert!("2024-02-30".parse::<Date>().is_err());
        assert!("2024-05-01T00:00:00Z".parse::<Date>().is_err());
        assert_eq!(
            t("2024-05-01T23:30:00-01:00").date().to_string(),
            "2024-05-02"
        );
        assert_eq!(
            t("2024-05-01T12:34:56.5Z").clickhouse_text(),
            "2024-05-01 12:34:56.500"
        );
    }
}
