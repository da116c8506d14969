//! The connector service binary over real HTTP, on both backends: the seed's curl requests
//! verbatim, data surviving SIGKILL with the same ETag, full resource semantics, problem+json
//! errors, a secret that appears in no response, log line or document, a service that will not
//! start without a key, and any valid profile round-tripping.

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use persistent_storage::secrets::Keyring;
use proptest::prelude::*;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use test_support::http::{Response, ServiceProcess};
use test_support::{TestDatabase, on_both_backends};

const BINARY: &str = env!("CARGO_BIN_EXE_connector-service");
const SENTINEL: &str = "S3NT1NEL-7f3a-never-shown";

fn key() -> String {
    Keyring::generate_line("k1").unwrap().expose_secret().to_owned()
}

fn start(db: &TestDatabase, key: &str, extra: &[&str]) -> ServiceProcess {
    let mut args = vec!["--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    ServiceProcess::start(BINARY.as_ref(), &args, &[("DATABASE_URL", db.url()), ("INTAKE_SECRET_KEY", key)])
}

fn problem(response: &Response, status: u16) -> Value {
    assert_eq!(response.status, status, "{}", response.text());
    assert_eq!(response.header("content-type"), Some("application/problem+json"), "{}", response.text());
    let body = response.json();
    assert_eq!(body["status"], status);
    assert!(!body["detail"].as_str().unwrap().is_empty());
    body
}

/// The seed's "Test Connector Service" and "Data Persistence Verification" requests, as the
/// seed writes them (on the seed's port, 8023), with a SIGKILL and restart for its
/// `docker-compose restart`.
#[test]
fn the_seeds_curl_requests_work_verbatim_and_data_survives_a_kill() {
    const CREATE: &str = r#"curl -X POST http://localhost:8023/connector/profiles \
  -H "Content-Type: application/json" \
  -d '{
    "id": "test-sql-connection",
    "name": "Test SQL Server",
    "type": "sql",
    "connection_string": "Server=localhost;Database=test;",
    "credentials": {
      "username": "testuser",
      "password": "testpass"
    }
  }'"#;
    const RETRIEVE: &str = "curl http://localhost:8023/connector/profiles/test-sql-connection";
    const LIST: &str = "curl http://localhost:8023/connector/profiles";
    const PERSIST: &str = r#"curl -X POST http://localhost:8023/connector/profiles \
  -H "Content-Type: application/json" \
  -d '{"id": "persist-test", "name": "Persistence Test", "type": "sql"}'"#;
    const VERIFY: &str = "curl http://localhost:8023/connector/profiles/persist-test";
    let curl = test_support::http::curl_json;
    // One backend after the other: both need the seed's port.
    for db in [TestDatabase::sqlite(), TestDatabase::postgres()] {
        let key = key();
        let service =
            || ServiceProcess::start(BINARY.as_ref(), &[], &[("DATABASE_URL", db.url()), ("INTAKE_SECRET_KEY", &key)]);
        let mut running = service();
        assert_eq!(running.address.port(), 8023);
        let created = curl(CREATE);
        assert_eq!(created["id"], "test-sql-connection");
        assert_eq!(created["has_credentials"], true);
        let retrieved = curl(RETRIEVE);
        assert_eq!(retrieved["credentials"], json!({"username": "testuser"}));
        assert!(retrieved.get("connection_string").is_none() && !retrieved.to_string().contains("testpass"));
        assert_eq!(curl(LIST)["items"].as_array().unwrap().len(), 1);
        curl(PERSIST);
        let etag =
            running.request("GET", "/connector/profiles/persist-test", &[], None).header("etag").unwrap().to_owned();
        running.kill();
        let restarted = service();
        let verified = curl(VERIFY);
        assert_eq!(verified["name"], "Persistence Test");
        let again = restarted.request("GET", "/connector/profiles/persist-test", &[], None);
        assert_eq!(again.header("etag"), Some(etag.as_str()), "the same ETag after a restart");
        drop(restarted);
    }
}

fn resource_semantics(db: &TestDatabase) {
    let service = start(db, &key(), &["--body-limit", "4096"]);
    let profile = |id: &str, kind: &str| json!({"id": id, "name": format!("Profile {id}"), "type": kind});
    let created = service.send_json("POST", "/connector/profiles", &[], &profile("p 1/x", "sql"));
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.header("location"), Some("/connector/profiles/p%201%2Fx"));
    assert_eq!(created.header("etag"), Some("\"1\""));
    let conflict = service.send_json("POST", "/connector/profiles", &[], &profile("p 1/x", "api"));
    assert!(problem(&conflict, 409)["detail"].as_str().unwrap().contains("exists already"));

    let path = "/connector/profiles/p%201%2Fx";
    let got = service.request("GET", path, &[], None);
    assert_eq!((got.status, got.json()["name"].as_str()), (200, Some("Profile p 1/x")));
    assert_eq!(service.request("GET", path, &[("If-None-Match", "\"1\"")], None).status, 304);

    problem(&service.send_json("PUT", path, &[], &profile("p 1/x", "api")), 428);
    let stale = service.send_json("PUT", path, &[("If-Match", "\"9\"")], &profile("p 1/x", "api"));
    assert_eq!(problem(&stale, 412)["current_etag"], "\"1\"");
    let put = service.send_json("PUT", path, &[("If-Match", "\"1\"")], &json!({"name": "Renamed", "type": "api"}));
    assert_eq!((put.status, put.header("etag")), (200, Some("\"2\"")), "{}", put.text());
    let patch = service.request(
        "PATCH",
        path,
        &[("If-Match", "\"2\""), ("Content-Type", "application/merge-patch+json")],
        Some(br#"{"test_status": "success"}"#),
    );
    assert_eq!((patch.status, patch.json()["test_status"].as_str()), (200, Some("success")), "{}", patch.text());

    for i in 0..5 {
        service.send_json("POST", "/connector/profiles", &[], &profile(&format!("q-{i}"), "excel"));
        std::thread::sleep(std::time::Duration::from_millis(3));
    }
    let first = service.request("GET", "/connector/profiles?type=excel&limit=2", &[], None).json();
    let ids: Vec<&str> = first["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["q-4", "q-3"]);
    let token = first["next_page_token"].as_str().unwrap();
    let second =
        service.request("GET", &format!("/connector/profiles?type=excel&limit=2&page_token={token}"), &[], None);
    assert_eq!(second.json()["items"][0]["id"], "q-2");
    let all = service.request(
        "GET",
        "/connector/profiles?created_after=2000-01-01&created_before=2999-01-01T00:00:00Z",
        &[],
        None,
    );
    assert_eq!(all.json()["items"].as_array().unwrap().len(), 6);

    assert!(
        problem(&service.request("GET", "/connector/profiles?colour=red", &[], None), 400)["detail"]
            .as_str()
            .unwrap()
            .contains("use type, created_after, created_before, limit, page_token")
    );
    problem(&service.request("GET", "/connector/profiles?limit=0", &[], None), 400);
    problem(&service.request("GET", "/connector/profiles?created_after=yesterday", &[], None), 400);

    let malformed = service.request(
        "POST",
        "/connector/profiles",
        &[("Content-Type", "application/json")],
        Some(b"{\"id\": \"x\",\n \"name\": }"),
    );
    let findings = &problem(&malformed, 400)["findings"];
    assert_eq!((findings[0]["rule"].as_str(), findings[0]["line"].as_u64()), (Some("json"), Some(2)), "{findings}");
    let invalid =
        service.send_json("POST", "/connector/profiles", &[], &json!({"id": "v", "name": "V", "type": "ftp"}));
    let finding = &problem(&invalid, 422)["findings"][0];
    assert_eq!((finding["rule"].as_str(), finding["path"].as_str()), (Some("enumeration"), Some("type")), "{finding}");
    assert!(finding["line"].as_u64().is_some() && finding["column"].as_u64().is_some(), "{finding}");
    problem(&service.request("POST", "/connector/profiles", &[("Content-Type", "text/csv")], Some(b"{}")), 415);
    let big = json!({"id": "big", "name": "x".repeat(5000), "type": "sql"});
    assert!(
        problem(&service.send_json("POST", "/connector/profiles", &[], &big), 413)["detail"]
            .as_str()
            .unwrap()
            .contains("4096")
    );
    problem(&service.request("GET", "/nowhere", &[], None), 404);

    assert_eq!(service.request("DELETE", path, &[("If-Match", "\"3\"")], None).status, 204);
    problem(&service.request("GET", path, &[], None), 404);
    assert_eq!(service.request("GET", "/health", &[], None).json(), json!({"status": "ok"}));
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// A sentinel secret through every endpoint, with debug logging: it is in no response, no log
/// line, and in the database only as ciphertext.
fn a_secret_is_never_shown(db: &TestDatabase) {
    let key = key();
    let service = ServiceProcess::start(
        BINARY.as_ref(),
        &["--listen", "127.0.0.1:0"],
        &[("DATABASE_URL", db.url()), ("INTAKE_SECRET_KEY", &key), ("RUST_LOG", "debug")],
    );
    let secret = |id: &str| {
        json!({"id": id, "name": "Warehouse", "type": "sql", "connection_string": format!("Server=w;Password={SENTINEL}"),
               "credentials": {"username": "etl", "password": SENTINEL}})
    };
    let mut responses = vec![
        service.send_json("POST", "/connector/profiles", &[], &secret("s-1")),
        service.send_json("POST", "/connector/profiles", &[], &secret("s-1")),
        service.send_json(
            "POST",
            "/connector/profiles",
            &[],
            &json!({"id": "s-2", "name": SENTINEL, "type": "bad", "connection_string": SENTINEL}),
        ),
        service.request("GET", "/connector/profiles/s-1", &[], None),
        service.request("GET", "/connector/profiles", &[], None),
        service.request("GET", "/connector/profiles?type=sql", &[], None),
        service.send_json("PUT", "/connector/profiles/s-1", &[("If-Match", "\"1\"")], &secret("s-1")),
        service.send_json("PUT", "/connector/profiles/s-1", &[("If-Match", "\"1\"")], &secret("s-1")),
        service.send_json(
            "PATCH",
            "/connector/profiles/s-1",
            &[("If-Match", "\"2\"")],
            &json!({"connection_string": SENTINEL}),
        ),
    ];
    responses.push(service.request("DELETE", "/connector/profiles/s-1", &[("If-Match", "\"3\"")], None));
    assert_eq!(
        responses.iter().map(|r| r.status).collect::<Vec<_>>(),
        [201, 409, 422, 200, 200, 200, 200, 412, 200, 204]
    );
    // The 422's finding quotes the bad type, not the secret fields.
    for response in &responses[..2] {
        assert!(!response.text().contains(SENTINEL), "{}", response.text());
    }
    for response in &responses[3..] {
        assert!(!response.text().contains(SENTINEL), "{}", response.text());
    }
    service.send_json("POST", "/connector/profiles", &[], &secret("s-3"));
    let log = service.log();
    assert!(log.contains("DEBUG") && log.contains("/connector/profiles"), "debug logging was on: {log}");
    assert!(!log.contains(SENTINEL), "{log}");
    let leaks = match db.backend() {
        migration_core::Backend::Postgres => {
            "SELECT count(*) AS n FROM connector_profiles WHERE CAST(profile_data AS TEXT) LIKE '%S3NT1NEL%' OR secrets LIKE '%S3NT1NEL%'"
        }
        migration_core::Backend::Sqlite => {
            "SELECT count(*) AS n FROM connector_profiles WHERE profile_data LIKE '%S3NT1NEL%' OR secrets LIKE '%S3NT1NEL%'"
        }
    };
    let mut connection = db.database().get().unwrap();
    let mut count = |sql: &str| {
        migration_core::dispatch!(connection, conn => diesel::sql_query(sql).get_result::<Count>(conn)).unwrap().n
    };
    assert_eq!(count(leaks), 0);
    assert_eq!(count("SELECT count(*) AS n FROM connector_profiles WHERE secrets LIKE '%v1:k1:%'"), 1);
}

fn it_will_not_start_without_a_key(db: &TestDatabase) {
    let (code, stderr) =
        ServiceProcess::run_to_end(BINARY.as_ref(), &["--listen", "127.0.0.1:0"], &[("DATABASE_URL", db.url())]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("connector-service: no secret key: set INTAKE_SECRET_KEY"), "{stderr}");
    let (code, stderr) = ServiceProcess::run_to_end(
        BINARY.as_ref(),
        &["--listen", "127.0.0.1:0"],
        &[("DATABASE_URL", db.url()), ("INTAKE_SECRET_KEY", "k1:c2hvcnQ")],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("the key has 5 bytes, not 32") && !stderr.contains("c2hvcnQ"), "{stderr}");
}

/// Any valid profile: POST, then GET, gives the same document without its secrets, with the
/// flags saying which are stored.
fn any_valid_profile_round_trips(db: &TestDatabase) {
    let service = start(db, &key(), &[]);
    let text = "[a-zA-Z0-9 _.:;=/-]{0,24}";
    let profiles = (
        "[a-z0-9-]{1,16}",
        text,
        prop::sample::select(vec!["sql", "api", "excel"]),
        prop::option::of(text),
        prop::option::of((prop::option::of(text), prop::option::of(text))),
        prop::option::of(prop::sample::select(vec!["success", "failed"])),
    );
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(24));
    let n = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&profiles, |(id, name, kind, connection, credentials, status)| {
            // Shrinking repeats cases: each POST gets a key of its own.
            let id = format!("{id}-{}", n.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            let mut document = json!({"id": id, "name": name, "type": kind});
            if let Some(connection) = &connection {
                document["connection_string"] = json!(connection);
            }
            if let Some((username, password)) = &credentials {
                let mut object = serde_json::Map::new();
                if let Some(u) = username {
                    object.insert("username".into(), json!(u));
                }
                if let Some(p) = password {
                    object.insert("password".into(), json!(p));
                }
                document["credentials"] = Value::Object(object);
            }
            if let Some(status) = status {
                document["test_status"] = json!(status);
            }
            let posted = service.send_json("POST", "/connector/profiles", &[], &document);
            prop_assert_eq!(posted.status, 201, "{}", posted.text());
            let mut got = service.request("GET", &format!("/connector/profiles/{id}"), &[], None).json();
            let object = got.as_object_mut().unwrap();
            for meta in ["version", "created_at", "updated_at"] {
                prop_assert!(object.remove(meta).is_some());
            }
            let mut expected = document.clone();
            let mut secret_fields = Vec::new();
            if expected.as_object_mut().unwrap().remove("connection_string").is_some() {
                secret_fields.push("connection_string");
            }
            if let Some(credentials) = expected.get_mut("credentials").and_then(Value::as_object_mut) {
                if credentials.remove("password").is_some() {
                    secret_fields.push("credentials.password");
                }
                if credentials.is_empty() {
                    expected.as_object_mut().unwrap().remove("credentials");
                }
            }
            expected["has_credentials"] = json!(secret_fields.contains(&"credentials.password"));
            expected["secret_fields"] = json!(secret_fields);
            prop_assert_eq!(got, expected);
            Ok(())
        })
        .unwrap();
}

on_both_backends!(
    resource_semantics,
    a_secret_is_never_shown,
    it_will_not_start_without_a_key,
    any_valid_profile_round_trips
);
