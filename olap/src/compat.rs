//! What a ClickHouse server of a given version can do: the column types it stores, the
//! storage options it accepts and the optional features the host uses, checked before any
//! DDL runs so an app that needs a newer server fails with one error naming every column
//! and option it cannot store.

use std::collections::BTreeSet;
use std::fmt;

/// A ClickHouse release, `major.minor.patch` of `SELECT version()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServerVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl ServerVersion {
    /// `18.16.1`, `26.9.1.123` (the build number is ignored); `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().split('.').map(|part| part.parse::<u32>().ok());
        let major = parts.next()??;
        let minor = parts.next()??;
        let patch = parts.next().unwrap_or(Some(0))?;
        Some(Self {
            major,
            minor,
            patch,
        })
    }

    const fn new(major: u32, minor: u32) -> Self {
        Self {
            major,
            minor,
            patch: 0,
        }
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A column type that older servers lack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TypeFeature {
    /// `DateTime64(precision)`.
    DateTime64,
    /// `Map(K, V)`.
    Map,
    /// `Bool` (older servers store booleans as `UInt8`).
    Bool,
    /// `LowCardinality(T)`: 18.12 to 18.16 refuse it unless
    /// `allow_experimental_low_cardinality_type` is set, which the host does not do.
    LowCardinality,
    /// The `JSON` object type.
    Json,
    /// `SimpleAggregateFunction(function, T)`.
    SimpleAggregateFunction,
    /// `Int128`, `Int256`, `UInt128`, `UInt256`.
    BigInt,
    /// `IPv4`, `IPv6`.
    Ip,
    /// `Point`, `Ring`, `Polygon`, `MultiPolygon`.
    Geo,
    /// `LineString`, `MultiLineString`.
    GeoLine,
}

impl TypeFeature {
    const ALL: [TypeFeature; 10] = [
        TypeFeature::DateTime64,
        TypeFeature::Map,
        TypeFeature::Bool,
        TypeFeature::LowCardinality,
        TypeFeature::Json,
        TypeFeature::SimpleAggregateFunction,
        TypeFeature::BigInt,
        TypeFeature::Ip,
        TypeFeature::Geo,
        TypeFeature::GeoLine,
    ];

    /// The type names that need the feature, as they appear in a column type.
    pub fn type_names(self) -> &'static [&'static str] {
        match self {
            TypeFeature::DateTime64 => &["DateTime64"],
            TypeFeature::Map => &["Map"],
            TypeFeature::Bool => &["Bool"],
            TypeFeature::LowCardinality => &["LowCardinality"],
            TypeFeature::Json => &["JSON"],
            TypeFeature::SimpleAggregateFunction => &["SimpleAggregateFunction"],
            TypeFeature::BigInt => &["Int128", "Int256", "UInt128", "UInt256"],
            TypeFeature::Ip => &["IPv4", "IPv6"],
            TypeFeature::Geo => &["Point", "Ring", "Polygon", "MultiPolygon"],
            TypeFeature::GeoLine => &["LineString", "MultiLineString"],
        }
    }

    /// The type names joined for a message: `DateTime64`, `IPv4/IPv6`.
    pub fn label(self) -> String {
        self.type_names().join("/")
    }

    /// The first release that stores the type without experimental settings.
    pub fn since(self) -> ServerVersion {
        match self {
            TypeFeature::DateTime64 => ServerVersion::new(20, 1),
            TypeFeature::Map => ServerVersion::new(21, 8),
            TypeFeature::Bool => ServerVersion::new(21, 12),
            TypeFeature::LowCardinality => ServerVersion::new(19, 1),
            TypeFeature::Json => ServerVersion::new(25, 3),
            TypeFeature::SimpleAggregateFunction => ServerVersion::new(19, 8),
            TypeFeature::BigInt => ServerVersion::new(21, 7),
            TypeFeature::Ip => ServerVersion::new(19, 3),
            TypeFeature::Geo => ServerVersion::new(22, 3),
            TypeFeature::GeoLine => ServerVersion::new(24, 6),
        }
    }

    /// `version` stores the type.
    pub fn available(self, version: ServerVersion) -> bool {
        version >= self.since()
    }
}

/// The features of column type `ty` (as the DDL writes it), each once, in [`TypeFeature`]
/// order. Quoted strings (enum member names) and backquoted identifiers (tuple element
/// names) are skipped.
pub fn type_features(ty: &str) -> BTreeSet<TypeFeature> {
    let mut features = BTreeSet::new();
    let mut chars = ty.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        match c {
            '\'' | '`' => {
                while let Some((_, next)) = chars.next() {
                    if next == '\\' {
                        chars.next();
                    } else if next == c {
                        break;
                    }
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut end = start + c.len_utf8();
                while let Some(&(index, next)) = chars.peek() {
                    if !(next.is_ascii_alphanumeric() || next == '_') {
                        break;
                    }
                    end = index + next.len_utf8();
                    chars.next();
                }
                let word = &ty[start..end];
                features.extend(
                    TypeFeature::ALL
                        .into_iter()
                        .filter(|f| f.type_names().contains(&word)),
                );
            }
            _ => {}
        }
    }
    features
}

/// A storage option that older servers lack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OptionFeature {
    /// Column `CODEC(...)`.
    Codec,
    /// Column and table `TTL`.
    Ttl,
    /// Data-skipping indexes (`INDEX ... TYPE ...`) without experimental settings.
    SkippingIndex,
    /// Projections.
    Projection,
    /// `ReplacingMergeTree(version, is_deleted)`.
    IsDeleted,
}

impl OptionFeature {
    /// What the option is called in messages.
    pub fn name(self) -> &'static str {
        match self {
            OptionFeature::Codec => "CODEC",
            OptionFeature::Ttl => "TTL",
            OptionFeature::SkippingIndex => "a data-skipping index",
            OptionFeature::Projection => "a projection",
            OptionFeature::IsDeleted => "ReplacingMergeTree's is_deleted column",
        }
    }

    /// The first release that accepts the option without experimental settings.
    pub fn since(self) -> ServerVersion {
        match self {
            OptionFeature::Codec => ServerVersion::new(19, 1),
            OptionFeature::Ttl => ServerVersion::new(19, 6),
            OptionFeature::SkippingIndex => ServerVersion::new(20, 1),
            OptionFeature::Projection => ServerVersion::new(21, 6),
            OptionFeature::IsDeleted => ServerVersion::new(23, 2),
        }
    }
}

/// A storage option a table of the schema uses, for the compatibility check.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TableOption {
    /// The table (as the app names it).
    pub table: String,
    pub feature: OptionFeature,
}

/// A column the schema creates, for the compatibility check.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Column {
    /// The model the column comes from, or the table for the host's own tables.
    pub owner: String,
    /// The column (field) name.
    pub name: String,
    /// The ClickHouse type, as the DDL writes it.
    pub ty: String,
}

/// One column a server cannot store, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedColumn {
    pub column: Column,
    /// The features of its type the server lacks.
    pub missing: Vec<TypeFeature>,
}

/// The app's schema needs a newer ClickHouse than the server it runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incompatible {
    /// The server's `version()`.
    pub server: String,
    /// Every column it cannot store, each once, sorted by owner and name.
    pub columns: Vec<UnsupportedColumn>,
    /// Every storage option it does not accept, each once, sorted by table.
    pub options: Vec<TableOption>,
}

impl fmt::Display for Incompatible {
    /// `ClickHouse 18.16.1 cannot store Order.ts DateTime64(3): DateTime64 needs
    /// ClickHouse 20.1 or newer; ...`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClickHouse {} cannot store ", self.server)?;
        for (index, unsupported) in self.columns.iter().enumerate() {
            if index > 0 {
                f.write_str("; ")?;
            }
            let Column { owner, name, ty } = &unsupported.column;
            write!(f, "{owner}.{name} {ty}: ")?;
            for (index, feature) in unsupported.missing.iter().enumerate() {
                if index > 0 {
                    f.write_str(", ")?;
                }
                let since = feature.since();
                write!(
                    f,
                    "{} needs ClickHouse {}.{} or newer",
                    feature.label(),
                    since.major,
                    since.minor
                )?;
            }
        }
        for (index, option) in self.options.iter().enumerate() {
            if index > 0 || !self.columns.is_empty() {
                f.write_str("; ")?;
            }
            let since = option.feature.since();
            write!(
                f,
                "table {}: {} needs ClickHouse {}.{} or newer",
                option.table,
                option.feature.name(),
                since.major,
                since.minor
            )?;
        }
        Ok(())
    }
}

/// Checks that a server of `version` (`server` is its `version()` text, for the message)
/// stores every one of `columns` and accepts every one of `options`.
pub fn check<'a>(
    server: &str,
    version: ServerVersion,
    columns: impl IntoIterator<Item = &'a Column>,
    options: impl IntoIterator<Item = &'a TableOption>,
) -> Result<(), Incompatible> {
    let unique: BTreeSet<&Column> = columns.into_iter().collect();
    let unsupported: Vec<UnsupportedColumn> = unique
        .into_iter()
        .filter_map(|column| {
            let missing: Vec<TypeFeature> = type_features(&column.ty)
                .into_iter()
                .filter(|f| !f.available(version))
                .collect();
            (!missing.is_empty()).then(|| UnsupportedColumn {
                column: column.clone(),
                missing,
            })
        })
        .collect();
    let options: BTreeSet<&TableOption> = options
        .into_iter()
        .filter(|o| version < o.feature.since())
        .collect();
    if unsupported.is_empty() && options.is_empty() {
        Ok(())
    } else {
        Err(Incompatible {
            server: server.to_string(),
            columns: unsupported,
            options: options.into_iter().cloned().collect(),
        })
    }
}

/// Optional settings the host sends when the server knows them.
pub const OPTIONAL_SETTINGS: &[&str] = &["date_time_output_format"];

/// What the host knows about the server it talks to, detected once per client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// `SELECT version()`, verbatim.
    pub version_text: String,
    /// The parsed version.
    pub version: ServerVersion,
    /// Which of [`OPTIONAL_SETTINGS`] the server knows.
    pub settings: BTreeSet<String>,
    /// The server binds `{name:Type}` query parameters (`param_<name>`).
    pub query_parameters: bool,
}

impl ServerInfo {
    /// The server knows setting `name` (one of [`OPTIONAL_SETTINGS`]).
    pub fn has_setting(&self, name: &str) -> bool {
        self.settings.contains(name)
    }

    /// [`check`] against this server.
    pub fn check<'a>(
        &self,
        columns: impl IntoIterator<Item = &'a Column>,
        options: impl IntoIterator<Item = &'a TableOption>,
    ) -> Result<(), Incompatible> {
        check(&self.version_text, self.version, columns, options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(owner: &str, name: &str, ty: &str) -> Column {
        Column {
            owner: owner.into(),
            name: name.into(),
            ty: ty.into(),
        }
    }

    #[test]
    fn parses_versions() {
        let old = ServerVersion::parse("18.16.1").unwrap();
        assert_eq!(old.to_string(), "18.16.1");
        let new = ServerVersion::parse("26.9.1.123\n").unwrap();
        assert_eq!((new.major, new.minor, new.patch), (26, 9, 1));
        assert_eq!(ServerVersion::parse("24.3").unwrap().patch, 0);
        assert!(old < new);
        assert_eq!(ServerVersion::parse("devel"), None);
        assert_eq!(ServerVersion::parse("1"), None);
    }

    #[test]
    fn finds_the_features_of_a_type() {
        use TypeFeature as F;
        let features = |ty| type_features(ty).into_iter().collect::<Vec<_>>();
        assert_eq!(features("Array(Nullable(Int64))"), vec![]);
        assert_eq!(features("DateTime"), vec![]);
        assert_eq!(features("DateTime64(3)"), vec![F::DateTime64]);
        assert_eq!(
            features("Map(String, Array(LowCardinality(String)))"),
            vec![F::Map, F::LowCardinality]
        );
        assert_eq!(features("Nullable(Bool)"), vec![F::Bool]);
        assert_eq!(features("JSON"), vec![F::Json]);
        // Enum member names and tuple element names are not types.
        assert_eq!(features("Enum8('Map' = 1, 'it\\'s Bool' = 2)"), vec![]);
        assert_eq!(features("Tuple(`JSON` String, `a\\`Map` UInt8)"), vec![]);
        assert_eq!(features("Tuple(`at` DateTime64(6))"), vec![F::DateTime64]);
        assert_eq!(features("Map(String, UInt256)"), vec![F::Map, F::BigInt]);
        assert_eq!(features("Nullable(IPv6)"), vec![F::Ip]);
        assert_eq!(features("Array(MultiPolygon)"), vec![F::Geo]);
        assert_eq!(features("LineString"), vec![F::GeoLine]);
        assert_eq!(features("FixedString(16)"), vec![]);
        assert_eq!(F::Ip.label(), "IPv4/IPv6");
    }

    #[test]
    fn reports_every_column_an_old_server_cannot_store() {
        let old = ServerVersion::parse("18.16.1").unwrap();
        let columns = [
            column("Order", "ts", "DateTime64(3)"),
            column("Order", "id", "String"),
            column("Order", "tags", "Map(String, Bool)"),
            column("Event", "payload", "JSON"),
            column("Order", "ts", "DateTime64(3)"),
        ];
        let error = check("18.16.1", old, &columns, &[]).unwrap_err();
        assert_eq!(error.columns.len(), 3);
        assert_eq!(
            error.to_string(),
            "ClickHouse 18.16.1 cannot store Event.payload JSON: JSON needs ClickHouse 25.3 or \
             newer; Order.tags Map(String, Bool): Map needs ClickHouse 21.8 or newer, Bool \
             needs ClickHouse 21.12 or newer; Order.ts DateTime64(3): DateTime64 needs \
             ClickHouse 20.1 or newer"
        );
        assert!(check(
            "18.16.1",
            old,
            &[column("A", "b", "LowCardinality(String)")],
            &[]
        )
        .unwrap_err()
        .to_string()
        .contains("LowCardinality needs ClickHouse 19.1 or newer"));
        let new = ServerVersion::parse("26.9.1").unwrap();
        assert_eq!(check("26.9.1", new, &columns, &[]), Ok(()));
        let mid = ServerVersion::parse("21.8.3").unwrap();
        let error = check("21.8.3", mid, &columns, &[]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "ClickHouse 21.8.3 cannot store Event.payload JSON: JSON needs ClickHouse 25.3 or \
             newer; Order.tags Map(String, Bool): Bool needs ClickHouse 21.12 or newer"
        );
    }

    #[test]
    fn reports_every_storage_option_an_old_server_lacks() {
        let option = |table: &str, feature| TableOption {
            table: table.into(),
            feature,
        };
        let options = [
            option("Events", OptionFeature::Ttl),
            option("Events", OptionFeature::Projection),
            option("Events", OptionFeature::Ttl),
            option("Users", OptionFeature::IsDeleted),
        ];
        let columns = [column("Event", "ts", "DateTime64(3)")];
        let old = ServerVersion::parse("18.16.1").unwrap();
        assert_eq!(
            check("18.16.1", old, &columns, &options)
                .unwrap_err()
                .to_string(),
            "ClickHouse 18.16.1 cannot store Event.ts DateTime64(3): DateTime64 needs \
             ClickHouse 20.1 or newer; table Events: TTL needs ClickHouse 19.6 or newer; table \
             Events: a projection needs ClickHouse 21.6 or newer; table Users: \
             ReplacingMergeTree's is_deleted column needs ClickHouse 23.2 or newer"
        );
        let recent = ServerVersion::parse("22.8.1").unwrap();
        assert_eq!(
            check("22.8.1", recent, &[], &options)
                .unwrap_err()
                .to_string(),
            "ClickHouse 22.8.1 cannot store table Users: ReplacingMergeTree's is_deleted column \
             needs ClickHouse 23.2 or newer"
        );
    }
}
