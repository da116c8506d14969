//! The demo config service binary over real HTTP, on both backends: the seed's curl requests
//! verbatim, data surviving SIGKILL with the same ETag, the filters each collection serves,
//! merge patches and refusals, and a start without a key (its documents hold no secrets).

use serde_json::json;
use test_support::http::ServiceProcess;
use test_support::{TestDatabase, on_both_backends};

const BINARY: &str = env!("CARGO_BIN_EXE_demo-config-service");

fn start(db: &TestDatabase) -> ServiceProcess {
    ServiceProcess::start(BINARY.as_ref(), &["--listen", "127.0.0.1:0"], &[("DATABASE_URL", db.url())])
}

/// The seed's "Test Demo Config Service" requests, as the seed writes them (port 8022).
#[test]
fn the_seeds_curl_requests_work_verbatim() {
    const CREATE_CLIENT: &str = r#"curl -X POST http://localhost:8022/demo/clients \
  -H "Content-Type: application/json" \
  -d '{
    "client_id": "test-client-001",
    "client_name": "Test Corporation",
    "license_type": "professional",
    "modules": ["SCOR", "CRM"]
  }'"#;
    const RETRIEVE_CLIENT: &str = "curl http://localhost:8022/demo/clients/test-client-001";
    const CREATE_PROPOSAL: &str = r#"curl -X POST http://localhost:8022/demo/proposals \
  -H "Content-Type: application/json" \
  -d '{
    "proposal_id": "prop-001",
    "client_id": "test-client-001",
    "proposal_type": "implementation",
    "status": "draft"
  }'"#;
    let curl = test_support::http::curl_json;
    for db in [TestDatabase::sqlite(), TestDatabase::postgres()] {
        let service = ServiceProcess::start(BINARY.as_ref(), &[], &[("DATABASE_URL", db.url())]);
        assert_eq!(service.address.port(), 8022);
        assert_eq!(curl(CREATE_CLIENT)["version"], 1);
        let client = curl(RETRIEVE_CLIENT);
        assert_eq!(
            (client["client_name"].as_str(), client["modules"].clone()),
            (Some("Test Corporation"), json!(["SCOR", "CRM"]))
        );
        let proposal = curl(CREATE_PROPOSAL);
        assert_eq!((proposal["proposal_id"].as_str(), proposal["status"].as_str()), (Some("prop-001"), Some("draft")));
        drop(service);
    }
}

fn documents_survive_a_kill_with_their_etags(db: &TestDatabase) {
    let mut service = start(db);
    service.send_json(
        "POST",
        "/demo/clients",
        &[],
        &json!({"client_id": "c-1", "client_name": "Acme", "license_type": "basic"}),
    );
    let changed =
        service.send_json("PATCH", "/demo/clients/c-1", &[("If-Match", "\"1\"")], &json!({"modules": ["CRM"]}));
    assert_eq!(changed.header("etag"), Some("\"2\""), "{}", changed.text());
    let before = service.request("GET", "/demo/clients/c-1", &[], None);
    service.kill();
    let restarted = start(db);
    let after = restarted.request("GET", "/demo/clients/c-1", &[], None);
    assert_eq!((after.status, after.header("etag")), (200, Some("\"2\"")));
    assert_eq!(after.json(), before.json());
}

fn each_collection_serves_its_filters(db: &TestDatabase) {
    let service = start(db);
    for (id, license) in [("c-1", "basic"), ("c-2", "enterprise"), ("c-3", "basic")] {
        let created = service.send_json(
            "POST",
            "/demo/clients",
            &[],
            &json!({"client_id": id, "client_name": id, "license_type": license}),
        );
        assert_eq!(created.status, 201, "{}", created.text());
    }
    for (id, client, status) in [("p-1", "c-1", "draft"), ("p-2", "c-1", "sent"), ("p-3", "c-2", "draft")] {
        let proposal = json!({"proposal_id": id, "client_id": client, "proposal_type": "consulting", "status": status,
                              "pricing": {"total": 1200.5}, "timeline": {"start_date": "2026-01-05", "end_date": "2026-03-31"}});
        assert_eq!(service.send_json("POST", "/demo/proposals", &[], &proposal).status, 201);
    }
    let ids = |path: &str, key: &str| -> Vec<String> {
        let list = service.request("GET", path, &[], None);
        assert_eq!(list.status, 200, "{}", list.text());
        let mut ids: Vec<String> = list.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item[key].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids("/demo/clients?license_type=basic", "client_id"), ["c-1", "c-3"]);
    assert_eq!(ids("/demo/proposals?status=draft", "proposal_id"), ["p-1", "p-3"]);
    assert_eq!(ids("/demo/proposals?client_id=c-1", "proposal_id"), ["p-1", "p-2"]);
    assert_eq!(ids("/demo/proposals?client_id=c-1&status=sent", "proposal_id"), ["p-2"]);
    let wrong = service.request("GET", "/demo/clients?status=draft", &[], None);
    assert_eq!(wrong.status, 400, "{}", wrong.text());
    assert!(wrong.json()["detail"].as_str().unwrap().contains("use license_type, created_after"), "{}", wrong.text());

    let bad_date = json!({"proposal_id": "p-9", "client_id": "c-1", "proposal_type": "consulting", "status": "draft",
                          "timeline": {"start_date": "2026-02-30"}});
    let refused = service.send_json("POST", "/demo/proposals", &[], &bad_date);
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert_eq!(refused.json()["findings"][0]["path"], "timeline.start_date");
    assert_eq!(service.request("GET", "/demo/proposals/p-9", &[], None).status, 404, "nothing written");
    // The demo config service does not serve connector profiles.
    assert_eq!(service.request("GET", "/connector/profiles", &[], None).status, 404);
}

/// SIGTERM: the service finishes what is under way, says so, and exits 0.
fn it_stops_gracefully_on_sigterm(db: &TestDatabase) {
    let mut service = start(db);
    assert_eq!(service.request("GET", "/health", &[], None).status, 200);
    assert_eq!(service.terminate(), Some(0));
    let log = service.log();
    assert!(
        log.contains("shutting down: finishing the requests under way") && log.contains("demo-config-service stopped"),
        "{log}"
    );
}

/// A request held up by the database past `--request-timeout` is answered 503 with a
/// problem body when the time is up, not left hanging; its statement ends with it, so nothing
/// is written after the client was told it failed; the service answers the next one.
fn a_request_past_its_time_limit_gets_503(db: &TestDatabase) {
    let service = ServiceProcess::start(
        BINARY.as_ref(),
        &["--listen", "127.0.0.1:0", "--request-timeout", "1"],
        &[("DATABASE_URL", db.url())],
    );
    // Another session holds the table's write lock (PostgreSQL: ACCESS EXCLUSIVE; SQLite: the
    // database's write lock), so the request's statement waits.
    let mut holder = db.database().get().unwrap();
    let lock = match db.backend() {
        migration_core::Backend::Postgres => "BEGIN; LOCK TABLE client_configs IN ACCESS EXCLUSIVE MODE;",
        migration_core::Backend::Sqlite => "BEGIN IMMEDIATE; DELETE FROM client_configs WHERE client_id = 'none';",
    };
    holder.batch_execute(lock).unwrap();
    let started = std::time::Instant::now();
    let held = service.send_json(
        "POST",
        "/demo/clients",
        &[],
        &json!({"client_id": "c-1", "client_name": "Acme", "license_type": "basic"}),
    );
    let waited = started.elapsed();
    assert_eq!(held.status, 503, "{}", held.text());
    assert_eq!(held.header("content-type"), Some("application/problem+json"));
    assert!(
        held.json()["detail"].as_str().unwrap().contains("past this request's time limit; nothing was changed"),
        "{}",
        held.text()
    );
    assert!(waited < std::time::Duration::from_secs(5), "answered after {waited:?}");
    holder.batch_execute("ROLLBACK").unwrap();
    drop(holder);
    // The statement was cancelled with the request: the write did not happen later either.
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(service.request("GET", "/demo/clients/c-1", &[], None).status, 404);
    assert_eq!(service.request("GET", "/health", &[], None).status, 200);
}

on_both_backends!(
    documents_survive_a_kill_with_their_etags,
    each_collection_serves_its_filters,
    it_stops_gracefully_on_sigterm,
    a_request_past_its_time_limit_gets_503,
);
