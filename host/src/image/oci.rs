//! The image as an OCI image layout in one tar file (`oci-archive`): `oci-layout`,
//! `index.json` and `blobs/sha256/…` (the layers, the image config and the manifest),
//! with the types of the `oci-spec` crate. The tar also carries Docker's `manifest.json`
//! for `docker load` of daemons that predate OCI archives.
//!
//! JSON documents are written with sorted keys and layers reproducibly (see
//! [`super::layer`]), so the same input always gives the same manifest digest.

use std::collections::BTreeMap;

use oci_spec::image::{
    ConfigBuilder, Descriptor, DescriptorBuilder, HistoryBuilder, ImageConfigurationBuilder,
    ImageIndexBuilder, ImageManifestBuilder, MediaType, OciLayoutBuilder, RootFsBuilder,
    Sha256Digest, SCHEMA_VERSION,
};
use serde::Serialize;

use super::layer::{normalized, sha256_hex, write_tar, Entry, LayerBlob};
use super::ImageError;

/// How the image runs: the image config's `config` object.
#[derive(Debug, Clone)]
pub(super) struct RunConfig {
    pub user: String,
    pub entrypoint: Vec<String>,
    pub working_dir: String,
    pub env: Vec<String>,
    /// `port/tcp`.
    pub exposed_ports: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub stop_signal: String,
    pub healthcheck: Healthcheck,
}

/// Docker's `Healthcheck` of an image config (durations in nanoseconds). OCI has no such
/// field; Docker and Podman read it from the image config all the same.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Healthcheck {
    /// `["CMD", program, args...]`.
    pub test: Vec<String>,
    pub interval: u64,
    pub timeout: u64,
    pub start_period: u64,
    pub retries: u32,
}

/// A written archive.
#[derive(Debug, Clone)]
pub(super) struct Archive {
    /// `sha256:…` of the image manifest: the image's digest.
    pub digest: String,
    /// `sha256:…` of the image config: the image ID Docker shows.
    pub config_digest: String,
}

/// One layer of the image and its history line.
pub(super) struct Layer<'a> {
    pub blob: &'a LayerBlob,
    pub created_by: &'a str,
}

/// Writes the OCI archive of an image with `layers` (in order) and `run` to `out`, named
/// `reference` (`name:tag`).
pub(super) fn write_archive(
    out: &mut std::fs::File,
    layers: &[Layer<'_>],
    run: &RunConfig,
    reference: &str,
    created: Option<&str>,
    mtime: u64,
) -> Result<Archive, ImageError> {
    let spec = |e: oci_spec::OciSpecError| ImageError::Oci {
        message: e.to_string(),
    };
    let digest = |hex: &str| hex.parse::<Sha256Digest>().map_err(spec);

    let mut config = ConfigBuilder::default()
        .user(run.user.clone())
        .entrypoint(run.entrypoint.clone())
        .working_dir(run.working_dir.clone())
        .env(run.env.clone())
        .exposed_ports(run.exposed_ports.clone())
        .labels(
            run.labels
                .clone()
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        )
        .stop_signal(run.stop_signal.clone())
        .build()
        .map_err(spec)?;
    config.set_cmd(None);
    let history = layers
        .iter()
        .map(|layer| {
            let mut history = HistoryBuilder::default().created_by(layer.created_by);
            if let Some(created) = created {
                history = history.created(created);
            }
            history.build().map_err(spec)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut image = ImageConfigurationBuilder::default()
        .config(config)
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(
                    layers
                        .iter()
                        .map(|l| format!("sha256:{}", l.blob.diff_id))
                        .collect::<Vec<_>>(),
                )
                .build()
                .map_err(spec)?,
        )
        .history(history);
    if let Some(created) = created {
        image = image.created(created);
    }
    let mut image_json = to_value(&image.build().map_err(spec)?)?;
    image_json["config"]["Healthcheck"] = to_value(&run.healthcheck)?;
    let config_blob = canonical(image_json)?;
    let config_hex = sha256_hex(&config_blob);

    let manifest = ImageManifestBuilder::default()
        .schema_version(SCHEMA_VERSION)
        .media_type(MediaType::ImageManifest)
        .config(descriptor(
            MediaType::ImageConfig,
            &config_blob,
            digest(&config_hex)?,
        )?)
        .layers(
            layers
                .iter()
                .map(|l| {
                    DescriptorBuilder::default()
                        .media_type(MediaType::ImageLayerGzip)
                        .size(l.blob.size)
                        .digest(digest(&l.blob.digest)?)
                        .build()
                        .map_err(spec)
                })
                .collect::<Result<Vec<_>, _>>()?,
        )
        .build()
        .map_err(spec)?;
    let manifest_blob = canonical(to_value(&manifest)?)?;
    let manifest_hex = sha256_hex(&manifest_blob);

    let mut manifest_descriptor = descriptor(
        MediaType::ImageManifest,
        &manifest_blob,
        digest(&manifest_hex)?,
    )?;
    manifest_descriptor.set_annotations(Some(
        [
            ("org.opencontainers.image.ref.name", reference),
            ("io.containerd.image.name", reference),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    ));
    let index = ImageIndexBuilder::default()
        .schema_version(SCHEMA_VERSION)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![manifest_descriptor])
        .build()
        .map_err(spec)?;
    let layout = OciLayoutBuilder::default()
        .image_layout_version("1.0.0")
        .build()
        .map_err(spec)?;
    let blob = |hex: &str| format!("blobs/sha256/{hex}");
    let docker_manifest = serde_json::json!([{
        "Config": blob(&config_hex),
        "RepoTags": [reference],
        "Layers": layers.iter().map(|l| blob(&l.blob.digest)).collect::<Vec<_>>(),
    }]);

    let mut entries = vec![
        Entry::bytes("oci-layout", 0o644, canonical(to_value(&layout)?)?),
        Entry::bytes("index.json", 0o644, canonical(to_value(&index)?)?),
        Entry::bytes("manifest.json", 0o644, canonical(docker_manifest)?),
        Entry::bytes(&blob(&config_hex), 0o644, config_blob),
        Entry::bytes(&blob(&manifest_hex), 0o644, manifest_blob),
    ];
    for layer in layers {
        let path = blob(&layer.blob.digest);
        // The same layer twice is stored once.
        if !entries.iter().any(|e| e.path == path) {
            entries.push(Entry::file(&path, 0o644, layer.blob.file.path()));
        }
    }
    write_tar(&normalized(&entries)?, mtime, out)?;
    Ok(Archive {
        digest: format!("sha256:{manifest_hex}"),
        config_digest: format!("sha256:{config_hex}"),
    })
}

fn descriptor(
    media_type: MediaType,
    blob: &[u8],
    digest: Sha256Digest,
) -> Result<Descriptor, ImageError> {
    DescriptorBuilder::default()
        .media_type(media_type)
        .size(blob.len() as u64)
        .digest(digest)
        .build()
        .map_err(|e| ImageError::Oci {
            message: e.to_string(),
        })
}

fn to_value(value: &impl Serialize) -> Result<serde_json::Value, ImageError> {
    serde_json::to_value(value).map_err(|e| ImageError::Oci {
        message: e.to_string(),
    })
}

/// `value` as compact JSON with every object's keys sorted (the `oci-spec` types keep
/// labels and annotations in hash maps, whose order changes from run to run).
fn canonical(mut value: serde_json::Value) -> Result<Vec<u8>, ImageError> {
    value.sort_all_objects();
    serde_json::to_vec(&value).map_err(|e| ImageError::Oci {
        message: e.to_string(),
    })
}
