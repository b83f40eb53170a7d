//! Graceful shutdown through the real binary: requests in flight when SIGTERM
//! arrives finish with their answer, and everything acknowledged is there
//! after a restart.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub(crate) async fn start(db: &str) -> (tokio::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_growth-analytics"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            db,
        ])
        .env("RUST_LOG", "warn")
        .env("BOOTSTRAP_ADMIN_KEY", crate::helpers::TEST_ADMIN_KEY)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let base = format!("http://127.0.0.1:{port}");
    let client = crate::helpers::client_with_key(crate::helpers::TEST_ADMIN_KEY);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "the server did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, base)
}

#[tokio::test]
async fn sigterm_lets_in_flight_webhooks_finish_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("shutdown.db").display()
    );
    let (mut child, base) = start(&db).await;

    // Sixteen batches of 2,000 pageviews: more work than the server can do
    // before the signal arrives.
    let mut requests = Vec::new();
    let (answered_tx, mut answered_rx) = tokio::sync::mpsc::channel::<()>(16);
    for b in 0..16 {
        let batch: Vec<Value> = (0..2000)
            .map(|i| {
                json!({
                    "fingerprint": format!("sd-{b}-{}", i % 300),
                    "url": format!("https://www.blinkist.com/p/{b}/{i}"),
                    "created_at": format!("2023-05-01T{:02}:{:02}:{:02}Z", b, (i / 60) % 60, i % 60),
                })
            })
            .collect();
        let url = format!("{base}/webhooks/pageviews");
        let answered = answered_tx.clone();
        requests.push(tokio::spawn(async move {
            let response = crate::helpers::client_with_key(crate::helpers::TEST_ADMIN_KEY)
                .post(url)
                .json(&batch)
                .send()
                .await;
            let _ = answered.send(()).await;
            (response, Instant::now())
        }));
    }
    // Signal once the server has answered its first batch: the writer commits
    // at most 10,000 rows a group, so the other batches are then still being
    // read, queued or written. (A fixed sleep raced the clients on a busy
    // machine: sometimes no request had reached the server yet.)
    let _ = tokio::time::timeout(Duration::from_secs(30), answered_rx.recv()).await;
    let pid = child.id().expect("the server is running") as libc::pid_t;
    // SAFETY: sends a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let signalled = Instant::now();

    // A request the server had not accepted yet may be refused (it stored
    // nothing); every request it accepted must be answered, and answered 200.
    let mut acknowledged = 0;
    let mut after_signal = 0;
    for r in requests {
        let (response, at) = r.await.unwrap();
        let Ok(response) = response else { continue };
        after_signal += usize::from(at > signalled);
        assert_eq!(response.status().as_u16(), 200);
        let body: Value = response.json().await.unwrap();
        acknowledged += body["stored"].as_u64().unwrap();
    }
    assert!(
        after_signal > 0,
        "no request was in flight at SIGTERM: the test proved nothing"
    );
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the server exits after draining")
        .unwrap();
    assert!(status.success(), "{status:?}");
    // A stopped service leaves one self-contained file: the write-ahead
    // log was checkpointed into it and removed.
    let wal = dir.path().join("shutdown.db-wal");
    let wal_bytes = std::fs::metadata(&wal).map_or(0, |m| m.len());
    assert_eq!(wal_bytes, 0, "{} left behind", wal.display());

    // Everything acknowledged is there after a restart.
    let (_child, base) = start(&db).await;
    let body: Value = crate::helpers::client_with_key(crate::helpers::TEST_ADMIN_KEY)
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": "{ pageviews { totalCount } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["data"]["pageviews"]["totalCount"].as_u64(),
        Some(acknowledged),
        "stored must equal what was acknowledged"
    );
}

/// How many pageviews a fingerprint has, through GraphQL.
async fn pageviews_of(base: &str, fingerprint: &str) -> u64 {
    let body: Value = crate::helpers::client_with_key(crate::helpers::TEST_ADMIN_KEY)
        .post(format!("{base}/graphql"))
        .json(&json!({
            "query": "query($f: String) { pageviews(filter: {fingerprint: $f}) { totalCount } }",
            "variables": { "f": fingerprint },
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["data"]["pageviews"]["totalCount"]
        .as_u64()
        .unwrap_or_else(|| panic!("no count in {body}"))
}

#[tokio::test]
async fn kill_9_mid_load_loses_nothing_acknowledged_and_leaves_no_batch_half_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("kill.db").display());
    let (mut child, base) = start(&db).await;

    const BATCHES: usize = 16;
    const ROWS: usize = 1000;
    let (answered_tx, mut answered_rx) = tokio::sync::mpsc::channel::<()>(BATCHES);
    let mut requests = Vec::new();
    for b in 0..BATCHES {
        let batch: Vec<Value> = (0..ROWS)
            .map(|i| {
                json!({
                    "fingerprint": format!("kill-{b}"),
                    "url": format!("https://www.blinkist.com/k/{b}/{i}"),
                    "created_at": format!("2023-06-01T{:02}:{:02}:{:02}Z", b, (i / 60) % 60, i % 60),
                })
            })
            .collect();
        let url = format!("{base}/webhooks/pageviews");
        let answered = answered_tx.clone();
        requests.push(tokio::spawn(async move {
            let response = crate::helpers::client_with_key(crate::helpers::TEST_ADMIN_KEY)
                .post(url)
                .json(&batch)
                .send()
                .await;
            let acknowledged = matches!(response, Ok(r) if r.status().is_success());
            let _ = answered.send(()).await;
            acknowledged
        }));
    }
    // Kill once the first batch is acknowledged: others are mid-flight.
    let _ = tokio::time::timeout(Duration::from_secs(30), answered_rx.recv()).await;
    child.start_kill().expect("SIGKILL the server");
    let _ = child.wait().await;

    let mut acknowledged = Vec::new();
    for r in requests {
        acknowledged.push(r.await.unwrap());
    }
    assert!(acknowledged.iter().any(|a| *a), "nothing was acknowledged");
    assert!(
        acknowledged.iter().any(|a| !*a),
        "every batch finished before the kill: the test proved nothing"
    );

    let (_child, base) = start(&db).await;
    for (b, acked) in acknowledged.iter().enumerate() {
        let stored = pageviews_of(&base, &format!("kill-{b}")).await;
        if *acked {
            assert_eq!(stored, ROWS as u64, "batch {b} was acknowledged");
        } else {
            assert!(
                stored == 0 || stored == ROWS as u64,
                "batch {b} is half stored: {stored}"
            );
        }
    }
}
