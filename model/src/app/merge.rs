//! Merging the parts that several components describe into one app.

use std::collections::BTreeMap;

use crate::types::AppDef;

use super::{model_ref, App, ComponentInfo};

/// What one component described, with its build facts.
pub struct ComponentPart {
    /// `functions` and `apis` are filled in by [`merge`].
    pub info: ComponentInfo,
    pub def: AppDef,
}

/// Two components declare the same model or stream differently.
#[derive(Debug, thiserror::Error)]
#[error("{kind} `{name}` is declared differently by components `{first}` and `{second}`")]
pub struct MergeError {
    pub kind: &'static str,
    pub name: String,
    pub first: String,
    pub second: String,
}

/// Merges component parts. Models and streams may be declared by several components (a
/// stream one component writes and another reads) as long as the declarations are
/// identical; everything else is concatenated, and duplicates are left to validation.
pub fn merge(name: &str, parts: Vec<ComponentPart>) -> Result<App, MergeError> {
    let mut def = AppDef::default();
    let mut model_owner: BTreeMap<String, String> = BTreeMap::new();
    let mut stream_owner: BTreeMap<String, String> = BTreeMap::new();
    let mut components = Vec::with_capacity(parts.len());

    for ComponentPart {
        mut info,
        def: part,
    } in parts
    {
        for model in part.models {
            let key = model_ref(&model);
            match def.models.iter().find(|m| model_ref(m) == key) {
                Some(existing) if *existing == model => {}
                Some(_) => {
                    return Err(MergeError {
                        kind: "model",
                        name: key.clone(),
                        first: model_owner[&key].clone(),
                        second: info.name.clone(),
                    })
                }
                None => {
                    model_owner.insert(key, info.name.clone());
                    def.models.push(model);
                }
            }
        }
        for stream in part.streams {
            match def.streams.iter().find(|s| s.name == stream.name) {
                Some(existing) if *existing == stream => {}
                Some(_) => {
                    return Err(MergeError {
                        kind: "stream",
                        name: stream.name.clone(),
                        first: stream_owner[&stream.name].clone(),
                        second: info.name.clone(),
                    })
                }
                None => {
                    stream_owner.insert(stream.name.clone(), info.name.clone());
                    def.streams.push(stream);
                }
            }
        }
        info.functions = part.functions.iter().map(|f| f.name.clone()).collect();
        info.apis = part.apis.iter().map(|a| a.name.clone()).collect();
        info.windowed_aggregations = part
            .windowed_aggregations
            .iter()
            .map(|a| a.name.clone())
            .collect();
        def.tables.extend(part.tables);
        def.ingests.extend(part.ingests);
        def.functions.extend(part.functions);
        def.aggregations.extend(part.aggregations);
        def.windowed_aggregations.extend(part.windowed_aggregations);
        def.views.extend(part.views);
        def.apis.extend(part.apis);
        components.push(info);
    }

    Ok(App {
        name: name.to_string(),
        components,
        def,
    })
}
