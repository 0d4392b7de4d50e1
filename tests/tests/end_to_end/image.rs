//! `moose build --docker`: the quickstart's production image, built twice with the real
//! CLI, unpacked with Debian's skopeo and umoci, and its host run from the unpacked root
//! file system.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use moose_host::config::{Project, StreamingBackend};
use moose_host::infra_map::{InfraMap, MigrationPlan, Op};
use moose_host::prod::{Artifact, Manifest};
use moose_runtime::{compatibility_hash, LoadSource, NoQueryService, Runtime};
use moose_tests::image::{
    build_image, image_moose, is_root, rootfs_command, runtime_config, skopeo_inspect, unpack_image,
};
use moose_tests::{moose_bin, DevHost};
use sha2::{Digest, Sha256};

const MIB: f64 = (1 << 20) as f64;

#[test]
fn quickstart_image_is_reproducible_and_runs_from_its_unpacked_root() {
    let info = build_image("examples/quickstart", &[]);
    let build = &info.build;
    let dist = info.dir.path().join(".moose/dist");
    assert!(
        build.stdout.contains("Image quickstart:latest"),
        "{}",
        build.stdout
    );
    assert_eq!(
        build.archive.canonicalize().expect("archive"),
        dist.join("quickstart.oci.tar")
            .canonicalize()
            .expect("archive")
    );
    assert!(
        build.stderr.contains("plan from an empty database"),
        "{}",
        build.stderr
    );
    let archive_size = std::fs::metadata(&build.archive).expect("archive").len();

    // The same input gives the same image.
    let again = info.build_again(&[]);
    assert_eq!(
        again.digest, build.digest,
        "the image digest is reproducible"
    );

    // An outside tool reads the archive and finds the same image.
    let inspected = skopeo_inspect(&build.archive);
    assert_eq!(inspected["Digest"], build.digest.as_str(), "{inspected:#}");
    assert_eq!(inspected["Layers"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        inspected["Labels"]["org.opencontainers.image.title"],
        "quickstart"
    );

    let unpacked = tempfile::tempdir().expect("temp dir");
    let rootfs = unpack_image(&build.archive, unpacked.path());
    assert_layout(&rootfs, &info.dir.path().join(".moose/build/app.json"));

    // The runtime configuration umoci made from the image config.
    let config = runtime_config(&rootfs);
    let process = &config["process"];
    assert_eq!(process["user"]["uid"], 10001);
    assert_eq!(process["user"]["gid"], 10001);
    assert_eq!(
        process["args"],
        serde_json::json!(["/usr/local/bin/moose", "prod", "/app"])
    );
    assert_eq!(process["cwd"], "/app");
    let env: Vec<&str> = process["env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(env.contains(&"MOOSE_LOG_FORMAT=json"), "{env:?}");

    // The host runs inside the root file system, on the image's own libraries.
    let version = rootfs_command(&rootfs, &["--version"])
        .output()
        .expect("moose runs in the image");
    assert!(version.status.success(), "{version:?}");
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("moose {}", env!("CARGO_PKG_VERSION"))
    );

    assert_components_load_precompiled(&rootfs.join("app"));
    assert_dockerfile(&dist);

    // The reviewed plan given with --plan goes into the image as it is; this one is the
    // plan from an empty database the image already carries, so the image is the same.
    let plan = rootfs.join("app/plan.json");
    let reviewed = info.build_again(&["--plan", &plan.display().to_string()]);
    assert!(
        !reviewed.stderr.contains("plan from an empty database"),
        "{}",
        reviewed.stderr
    );
    assert_eq!(reviewed.digest, build.digest);
    // A plan that leads elsewhere is refused.
    let mut foreign = MigrationPlan::load(&plan).expect("plan");
    foreign.desired_map.tables.clear();
    let foreign_file = unpacked.path().join("foreign-plan.json");
    foreign.save(&foreign_file).expect("plan saved");
    let refused = info
        .build_command(&["--plan", &foreign_file.display().to_string()])
        .output()
        .expect("moose build runs");
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("does not lead to the app being built"),
        "{message}"
    );

    eprintln!(
        "image: {:.1} MiB archive, {:.1} MiB unpacked root file system; builds took {:.1?}, {:.1?} and {:.1?}",
        archive_size as f64 / MIB,
        tree_size(&rootfs) as f64 / MIB,
        build.build_time,
        again.build_time,
        reviewed.build_time,
    );
}

/// The agreed layout of the image's root file system, and what each file holds;
/// `built_app` is the `app.json` the build wrote.
fn assert_layout(rootfs: &Path, built_app: &Path) {
    for file in [
        "usr/local/bin/moose",
        "etc/passwd",
        "etc/group",
        "etc/hosts",
        "app/moose.config.toml",
        "app/components/quickstart.wasm",
        "app/components/quickstart.cwasm",
        "app/infra_map.json",
        "app/plan.json",
        "app/manifest.json",
    ] {
        assert!(rootfs.join(file).is_file(), "/{file} is missing");
    }
    let binary = std::fs::metadata(rootfs.join("usr/local/bin/moose")).expect("binary");
    assert_eq!(
        binary.len(),
        std::fs::metadata(image_moose()).expect("moose").len(),
        "the image carries the moose binary that built it"
    );
    assert_eq!(binary.permissions().mode() & 0o111, 0o111, "executable");
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).expect("passwd");
    assert!(passwd.contains("moose:x:10001:10001:"), "{passwd}");
    let tmp = std::fs::metadata(rootfs.join("tmp")).expect("/tmp");
    assert_eq!(tmp.permissions().mode() & 0o7777, 0o1777);
    let state = std::fs::metadata(rootfs.join("var/lib/moose")).expect("/var/lib/moose");
    assert!(state.is_dir());
    if is_root() {
        assert_eq!((state.uid(), state.gid()), (10001, 10001));
    }

    let app = rootfs.join("app");
    let wasm = std::fs::read(app.join("components/quickstart.wasm")).expect("wasm");
    let described: serde_json::Value =
        serde_json::from_slice(&std::fs::read(built_app).expect("app.json")).expect("JSON");
    assert_eq!(
        described["components"][0]["digest"].as_str(),
        Some(hex::encode(Sha256::digest(&wasm)).as_str()),
        "the raw component is the one the build described"
    );
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(app.join("manifest.json")).expect("manifest"))
            .expect("manifest.json");
    assert_eq!(manifest.app, "quickstart");
    assert_eq!(manifest.host_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest.components.len(), 1);
    assert_eq!(manifest.components[0].name, "quickstart");
    assert_eq!(
        manifest.components[0].sha256,
        hex::encode(Sha256::digest(&wasm))
    );

    let map: InfraMap =
        serde_json::from_slice(&std::fs::read(app.join("infra_map.json")).expect("map"))
            .expect("infra_map.json");
    assert!(map.tables.contains_key("DailyRevenue"), "{map:?}");
    let plan = MigrationPlan::load(&app.join("plan.json")).expect("plan.json");
    assert_eq!(plan.app, "quickstart");
    assert_eq!(plan.expected_applied_hash, None);
    assert_eq!(plan.desired_hash, map.hash());
    assert!(!plan.changes.is_empty());
    assert!(plan.changes.iter().all(|c| c.change.op == Op::Create));

    let config = Project::load(&app).expect("the config template is a valid config");
    assert_eq!(config.config.app.name, "quickstart");
    assert_eq!(config.config.http.host, "0.0.0.0");
    assert_eq!(config.config.streaming.backend, StreamingBackend::Kafka);
    assert_eq!(config.config.clickhouse.database, plan.database);
}

/// The `.cwasm` files load into an engine configured from the image's config template
/// (no compilation), through the same artifact reader `moose prod` uses.
fn assert_components_load_precompiled(app: &Path) {
    let project = Project::load(app).expect("config template");
    let cache = tempfile::tempdir().expect("temp dir");
    let runtime = Runtime::new(
        project.config.runtime.runtime_config(),
        cache.path().to_path_buf(),
        Arc::new(NoQueryService),
    )
    .expect("runtime");
    let artifact = Artifact::open(app).expect("the image's /app is an artifact");
    assert_eq!(
        artifact.manifest.engine_compat_hash,
        compatibility_hash(runtime.engine())
    );
    let mut sources = Vec::new();
    let assembled = artifact
        .assemble(&runtime, |step| {
            if let moose_host::assemble::Step::Loaded { source, .. } = step {
                sources.push(source);
            }
        })
        .expect("the artifact's components load and describe the app");
    assert_eq!(sources, [LoadSource::Cached], "loaded from the .cwasm");
    assert!(
        assembled.app.def.models.iter().any(|m| m.name == "Order"),
        "the precompiled component describes the app"
    );
}

/// The Dockerfile builds the same image `FROM scratch` out of its context.
fn assert_dockerfile(dist: &Path) {
    let dockerfile = std::fs::read_to_string(dist.join("Dockerfile")).expect("Dockerfile");
    for line in [
        "FROM scratch",
        "COPY system/ /",
        "COPY --chown=10001:10001 state/var/lib/moose/ /var/lib/moose/",
        "COPY app/ /app/",
        "USER 10001:10001",
        "WORKDIR /app",
        "ENV MOOSE_LOG_FORMAT=\"json\"",
        "EXPOSE 4000/tcp 5001/tcp",
        "HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD [\"/usr/local/bin/moose\",\"health\",\"--url\",\"http://127.0.0.1:5001/health\"]",
        "ENTRYPOINT [\"/usr/local/bin/moose\",\"prod\",\"/app\"]",
    ] {
        assert!(
            dockerfile.lines().any(|l| l == line),
            "missing {line:?} in:\n{dockerfile}"
        );
    }
    for file in [
        "system/usr/local/bin/moose",
        "app/components/quickstart.cwasm",
        "app/plan.json",
    ] {
        assert!(dist.join(file).is_file(), "the build context lacks {file}");
    }
    assert!(dist.join("state/var/lib/moose").is_dir());
}

/// Bytes of the regular files under `dir`.
fn tree_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(Result::ok)
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => tree_size(&entry.path()),
            Ok(t) if t.is_file() => entry.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

#[test]
fn moose_health_answers_for_a_running_host() {
    let host = DevHost::start("examples/quickstart");
    let health = |url: &str| {
        Command::new(moose_bin())
            .args(["health", "--url", url])
            .output()
            .expect("moose health runs")
    };
    let healthy = health(&format!("{}/health", host.management));
    assert!(healthy.status.success(), "{healthy:?}");
    assert_eq!(String::from_utf8_lossy(&healthy.stdout).trim(), "healthy");

    let missing = health(&format!("{}/no-such-route", host.management));
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("answered 404"),
        "{missing:?}"
    );

    let management = host.management.clone();
    assert!(host.stop(), "the host stops cleanly");
    let stopped = health(&format!("{management}/health"));
    assert!(!stopped.status.success(), "{stopped:?}");
}
