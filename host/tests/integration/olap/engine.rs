//! The embedded engine's life: start, stop, kill, restart, a second engine refused.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_opens_the_embedded_engine_keeps_data_and_stops_gracefully() {
    let state = scratch_dir("store");
    let section = ClickHouseSection {
        database: "persist".into(),
        ..ClickHouseSection::default()
    };
    let started = Instant::now();
    let store = OlapStore::open(&section, &state)
        .await
        .unwrap_or_else(|error| {
            panic!("the embedded engine did not start (prerequisites: scripts/setup.sh): {error}")
        });
    eprintln!("engine start: {:?}", started.elapsed());
    let log = state.join("clickhouse/server.log");
    let client = store.client().clone();
    assert!(client.version().await.expect("version").starts_with("26.9"));
    client.ensure_database().await.expect("database");
    client
        .execute("CREATE TABLE IF NOT EXISTS kept (id UInt32) ENGINE = MergeTree ORDER BY id")
        .await
        .expect("table");
    client
        .insert_json("kept", "{\"id\":1}\n{\"id\":2}\n", 2)
        .await
        .expect("insert");
    store.shutdown().await.expect("graceful stop");
    let text = std::fs::read_to_string(&log).expect("engine log");
    assert!(text.contains("standard input closed; stopping"), "{text}");
    assert!(text.trim_end().ends_with("INFO stopped"), "{text}");

    // The stopped engine is unavailable, not a rejection.
    let error = client
        .insert_json("kept", "{\"id\":3}", 1)
        .await
        .unwrap_err();
    assert!(
        matches!(error, OlapError::Unavailable { code: None, .. }),
        "{error:?}"
    );

    let store = OlapStore::open(&section, &state).await.expect("restart");
    assert_eq!(count(store.client(), "kept").await, 2);
    store.shutdown().await.expect("stop");
}

/// The pid of the embedded engine serving the data of `state_dir`.
fn engine_pid(state_dir: &Path) -> u32 {
    let data = state_dir.join("clickhouse/data");
    let output = Command::new("pgrep")
        .args(["-f", &format!("chdb_server.py --data {}", data.display())])
        .output()
        .expect("pgrep");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .and_then(|pid| pid.trim().parse().ok())
        .unwrap_or_else(|| panic!("no engine serves {}", data.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_engine_is_reported_down_and_started_again_with_its_data() {
    let state = scratch_dir("supervised");
    let section = ClickHouseSection {
        database: "supervised".into(),
        ..ClickHouseSection::default()
    };
    let store = OlapStore::open(&section, &state).await.expect("store");
    let client = store.client().clone();
    client.ensure_database().await.expect("database");
    client
        .execute("CREATE TABLE kept (id UInt32) ENGINE = MergeTree ORDER BY id")
        .await
        .expect("table");
    client
        .insert_json("kept", "{\"id\":1}\n", 1)
        .await
        .expect("insert");
    let health = store.health();
    assert!(health.is_up() && health.problem().is_none());

    let first = engine_pid(&state);
    let killed = Instant::now();
    Command::new("kill")
        .args(["-9", &first.to_string()])
        .status()
        .expect("kill");
    let mut saw_down = false;
    while health.restarts() == 0 {
        saw_down |= !health.is_up();
        assert!(killed.elapsed() < Duration::from_secs(30), "not restarted");
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!("restarted {:?} after the kill", killed.elapsed());
    assert!(
        saw_down,
        "the store was reported down while the engine was restarted"
    );
    assert!(health.is_up() && health.problem().is_none());
    let second = engine_pid(&state);
    assert_ne!(first, second);
    // The zombie is reaped: no process with the old pid remains.
    assert!(!Path::new(&format!("/proc/{first}")).exists());
    // Same URL, same data.
    assert_eq!(count(&client, "kept").await, 1);
    store.shutdown().await.expect("stop");
}

#[test]
fn missing_python_or_chdb_fails_naming_the_fix() {
    let dir = scratch_dir("missing");
    let options = EmbeddedOptions {
        python: Some(dir.join("no-such-python")),
        ..EmbeddedOptions::default()
    };
    let error = EmbeddedClickHouse::start_with(&dir, options).unwrap_err();
    assert!(
        error.to_string().contains("set [clickhouse] python to one"),
        "{error}"
    );

    // A Python without chdb: the system one with site-packages disabled.
    let fake = dir.join("python-without-chdb");
    std::fs::write(&fake, "#!/bin/sh\nexec python3 -S \"$@\"\n").expect("write");
    Command::new("chmod")
        .arg("+x")
        .arg(&fake)
        .status()
        .expect("chmod");
    let options = EmbeddedOptions {
        python: Some(fake),
        ..EmbeddedOptions::default()
    };
    let error = EmbeddedClickHouse::start_with(&dir, options).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("chdb-core is not installed"), "{message}");
    let requirements = dir.join("clickhouse/engine-requirements.txt");
    assert!(
        message.contains(&format!("install {}", requirements.display())),
        "{message}"
    );
    assert!(
        std::fs::read_to_string(&requirements)
            .expect("the requirements beside the server")
            .starts_with("chdb-core=="),
        "{message}"
    );
}

#[test]
fn a_second_engine_on_the_same_state_dir_is_refused() {
    let dir = scratch_dir("twice");
    let mut first = start_engine(&dir, EmbeddedOptions::default());
    let error = EmbeddedClickHouse::start_with(&dir, EmbeddedOptions::default()).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("already serves"), "{message}");
    assert!(message.contains(first.url()), "{message}");
    assert!(first.is_running());
    first.stop().expect("stop");
    // Without a port file (a crashed host's leftovers are gone), chDB's own lock on the
    // data directory refuses the second engine, and the error shows the engine's log.
    let mut first = start_engine(&dir, EmbeddedOptions::default());
    std::fs::remove_file(dir.join("clickhouse/server.port")).expect("remove port file");
    let error = EmbeddedClickHouse::start_with(&dir, EmbeddedOptions::default()).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("could not open"), "{message}");
    assert!(message.contains("Cannot lock file"), "{message}");
    assert!(first.is_running());
    first.stop().expect("stop");
}

#[test]
fn engine_exits_when_its_parent_dies() {
    let dir = scratch_dir("orphan");
    let python = default_python();
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh",
        python.display()
    );
    let script = write_server(&dir).expect("write the server");
    let port_file = dir.join("port");
    // A shell starts the server in the background, prints its pid and waits on stdin;
    // killing the shell orphans the server.
    let command = format!(
        "'{}' '{}' --data '{}' --port 0 --port-file '{}' --log '{}' </dev/null >/dev/null 2>&1 & echo $!; read _",
        python.display(),
        script.display(),
        dir.join("data").display(),
        port_file.display(),
        dir.join("log").display(),
    );
    let mut shell = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sh");
    let mut line = String::new();
    BufReader::new(shell.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("pid");
    let pid: u32 = line.trim().parse().expect("server pid");
    let alive = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map(|status| !status.contains("State:\tZ"))
            .unwrap_or(false)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !port_file.exists() {
        assert!(Instant::now() < deadline, "the server did not start");
        assert!(alive(pid), "the server exited early");
        std::thread::sleep(Duration::from_millis(50));
    }
    shell.kill().expect("kill the parent");
    let _ = shell.wait();
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) {
        assert!(
            Instant::now() < deadline,
            "the server outlived its parent by 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = std::fs::read_to_string(dir.join("log")).expect("log");
    assert!(log.contains("exited; stopping"), "{log}");
}
