//! The production `moose.config.toml` of an image: the app's own config with what only
//! makes sense on a developer's machine taken out (component sources, the embedded
//! engine's settings, passwords) and the production defaults put in (listen on every
//! interface, streams on Kafka).

use crate::config::{HttpSection, ProjectConfig, ENV_OVERRIDES};

/// A config template and the ports it serves on.
pub(super) struct Template {
    pub text: String,
    /// Ingest/API port and management port.
    pub ports: [u16; 2],
}

/// Why the app's config file cannot be turned into a template.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error(transparent)]
    Read(#[from] toml::de::Error),
    #[error(transparent)]
    Write(#[from] toml::ser::Error),
    #[error("`{0}` is not a table")]
    NotATable(String),
}

/// The template made from the app's config file `text` (parsed as `config`).
pub(super) fn config_template(
    text: &str,
    config: &ProjectConfig,
) -> Result<Template, TemplateError> {
    let mut doc: toml::Table = toml::from_str(text)?;
    let defaults = HttpSection::default();
    let port = |configured: u16, default: u16| if configured == 0 { default } else { configured };
    let ports = [
        port(config.http.port, defaults.port),
        port(config.http.management_port, defaults.management_port),
    ];

    let mut app = toml::Table::new();
    app.insert("name".into(), config.app.name.clone().into());
    doc.insert("app".into(), app.into());

    let http = section(&mut doc, "http")?;
    http.insert("host".into(), "0.0.0.0".into());
    http.insert("port".into(), i64::from(ports[0]).into());
    http.insert("management_port".into(), i64::from(ports[1]).into());

    let clickhouse = section(&mut doc, "clickhouse")?;
    for local_only in ["python", "embedded_port", "password"] {
        clickhouse.remove(local_only);
    }
    clickhouse.insert("database".into(), config.clickhouse.database.clone().into());

    let streaming = section(&mut doc, "streaming")?;
    streaming.insert("backend".into(), "kafka".into());
    if let Some(toml::Value::Table(librdkafka)) = streaming.get_mut("librdkafka") {
        librdkafka.retain(|key, _| !key.to_ascii_lowercase().contains("password"));
    }

    let body = toml::to_string(&doc)?;
    let mut text = format!(
        "# Production configuration of `{}`, written by `moose build --docker`.\n\
         # `moose prod` reads it; these environment variables override it:\n",
        config.app.name
    );
    for (variable, sets) in ENV_OVERRIDES {
        text.push_str(&format!("#   {variable:<30} {sets}\n"));
    }
    text.push_str(
        "# Passwords are never written here: give them in the environment \
         (or in a config file mounted over this one).\n\n",
    );
    text.push_str(&body);
    Ok(Template { text, ports })
}

/// The table `[name]` of `doc`, created when missing.
fn section<'a>(doc: &'a mut toml::Table, name: &str) -> Result<&'a mut toml::Table, TemplateError> {
    match doc
        .entry(name)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
    {
        toml::Value::Table(table) => Ok(table),
        _ => Err(TemplateError::NotATable(name.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(text: &str) -> (Template, ProjectConfig) {
        let config: ProjectConfig = toml::from_str(text).expect("valid config");
        let template = config_template(text, &config).expect("template");
        let parsed: ProjectConfig =
            toml::from_str(&template.text).expect("the template is a config");
        (template, parsed)
    }

    #[test]
    fn keeps_the_app_and_sets_production_defaults() {
        let (template, parsed) = template(
            "[app]\nname = \"shop\"\ncomponents = [\"a\", \"b\"]\n\
             [runtime]\nmemory_limit_mb = 64\n\
             [http]\nport = 0\n\
             [clickhouse]\ndatabase = \"shop\"\npassword = \"secret\"\nembedded_port = 9000\n\
             [streaming.librdkafka]\n\"sasl.username\" = \"u\"\n\"sasl.password\" = \"p\"\n",
        );
        assert_eq!(parsed.app.name, "shop");
        assert_eq!(parsed.app.components, [std::path::PathBuf::from(".")]);
        assert_eq!(parsed.runtime.memory_limit_mb, 64);
        assert_eq!(parsed.http.host, "0.0.0.0");
        assert_eq!(template.ports, [4000, 5001]);
        assert_eq!(
            (parsed.http.port, parsed.http.management_port),
            (4000, 5001)
        );
        assert_eq!(parsed.clickhouse.database, "shop");
        assert_eq!(parsed.clickhouse.password, "");
        assert_eq!(parsed.clickhouse.embedded_port, 0);
        assert_eq!(
            parsed.streaming.backend,
            crate::config::StreamingBackend::Kafka
        );
        assert!(parsed.streaming.librdkafka.contains_key("sasl.username"));
        assert!(!parsed.streaming.librdkafka.contains_key("sasl.password"));
        assert!(!template.text.contains("secret"));
        assert!(template.text.contains("MOOSE_KAFKA_BROKERS"));
    }
}
