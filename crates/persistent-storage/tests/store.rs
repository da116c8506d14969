//! The store on both backends: documents round-trip without their secrets, which are stored
//! only as ciphertext; versions refuse stale writes; PUT keeps secrets it leaves out; PATCH
//! merges; lists filter, page and bound by creation time; rotation reseals every secret once.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use migration_core::Migrator;
use persistent_storage::secrets::Keyring;
use persistent_storage::{Collection, Error, Expect, ListQuery, Store};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use test_support::{TestDatabase, on_both_backends};

const SENTINEL: &str = "S3NT1NEL-do-not-leak";

fn keys(lines: &[&SecretString]) -> Keyring {
    let text = lines.iter().map(|l| l.expose_secret().to_owned()).collect::<Vec<_>>().join("\n");
    Keyring::parse(&SecretString::from(text)).unwrap()
}

fn store(db: &TestDatabase) -> (Store, SecretString) {
    Migrator::new([&persistent_storage::MIGRATIONS]).unwrap().run(db.database(), None).unwrap();
    let key = Keyring::generate_line("k1").unwrap();
    (Store::new(db.database().clone(), Some(keys(&[&key]))), key)
}

fn profile(id: &str, kind: &str) -> Vec<u8> {
    json!({
        "id": id, "name": format!("Profile {id}"), "type": kind,
        "connection_string": format!("Server=db;Password={SENTINEL}"),
        "credentials": {"username": "reporting", "password": SENTINEL},
    })
    .to_string()
    .into_bytes()
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Secrets {
    #[diesel(sql_type = Text)]
    secrets: String,
}

fn count(db: &TestDatabase, sql: &str) -> i64 {
    let mut connection = db.database().get().unwrap();
    migration_core::dispatch!(connection, conn => diesel::sql_query(sql).get_result::<Count>(conn)).unwrap().n
}

/// The row's secrets column, parsed (PostgreSQL's JSONB writes its own spacing).
fn stored_secrets(db: &TestDatabase, id: &str) -> Value {
    let mut connection = db.database().get().unwrap();
    let sql = format!("SELECT secrets FROM connector_profiles WHERE id = '{id}'");
    let text = migration_core::dispatch!(connection, conn => diesel::sql_query(&sql).get_result::<Secrets>(conn))
        .unwrap()
        .secrets;
    serde_json::from_str(&text).unwrap()
}

fn a_document_round_trips_without_its_secrets(db: &TestDatabase) {
    let (store, _) = store(db);
    let stored = store.create(Collection::ConnectorProfiles, &profile("p-1", "sql")).unwrap();
    let expected = json!({
        "id": "p-1", "name": "Profile p-1", "type": "sql", "credentials": {"username": "reporting"},
        "has_credentials": true, "secret_fields": ["connection_string", "credentials.password"], "version": 1,
    });
    let mut shown = Value::Object(stored.representation());
    for meta in ["created_at", "updated_at"] {
        assert!(shown[meta].as_str().unwrap().ends_with('Z'), "{shown}");
        shown.as_object_mut().unwrap().remove(meta);
    }
    assert_eq!(shown, expected);
    assert_eq!(store.get(Collection::ConnectorProfiles, "p-1").unwrap(), stored);
    assert!(!format!("{stored:?} {store:?}").contains(SENTINEL));
    // In the database the sentinel is only ciphertext, outside the document.
    let leaks = match db.backend() {
        migration_core::Backend::Postgres => {
            "SELECT count(*) AS n FROM connector_profiles WHERE CAST(profile_data AS TEXT) LIKE '%S3NT1NEL%' OR secrets LIKE '%S3NT1NEL%'"
        }
        migration_core::Backend::Sqlite => {
            "SELECT count(*) AS n FROM connector_profiles WHERE profile_data LIKE '%S3NT1NEL%' OR secrets LIKE '%S3NT1NEL%'"
        }
    };
    assert_eq!(count(db, leaks), 0);
    let secrets = stored_secrets(db, "p-1");
    let sealed = secrets.as_object().unwrap();
    assert_eq!(sealed.len(), 2);
    assert!(sealed.values().all(|v| v.as_str().unwrap().starts_with("v1:k1:")), "{secrets}");

    let again = store.create(Collection::ConnectorProfiles, &profile("p-1", "api")).unwrap_err();
    assert!(matches!(again, Error::Exists { .. }), "{again}");
}

fn documents_without_secrets_need_no_key_but_secrets_do(db: &TestDatabase) {
    store(db);
    let keyless = Store::new(db.database().clone(), None);
    let client = br#"{"client_id": "c-1", "client_name": "Acme", "license_type": "basic", "modules": ["SCOR"]}"#;
    assert_eq!(keyless.create(Collection::ClientConfigs, client).unwrap().version, 1);
    let error = keyless.create(Collection::ConnectorProfiles, &profile("p-1", "sql")).unwrap_err().to_string();
    assert!(error.starts_with("no secret key"), "{error}");
    assert_eq!(count(db, "SELECT count(*) AS n FROM connector_profiles"), 0, "nothing written");
}

fn bad_documents_are_refused_with_the_validators_findings(db: &TestDatabase) {
    let (store, _) = store(db);
    let malformed = store.create(Collection::ClientConfigs, b"{\"client_id\": \"c-1\",").unwrap_err();
    let Error::Malformed(report) = malformed else { panic!("{malformed}") };
    assert_eq!(report.findings[0].rule.code(), "json");
    let invalid = store
        .create(
            Collection::ServiceProposals,
            br#"{"proposal_id": "x", "client_id": "c", "proposal_type": "x", "status": "draft"}"#,
        )
        .unwrap_err();
    let Error::Invalid(report) = invalid else { panic!("{invalid}") };
    assert_eq!(report.findings[0].rule.code(), "enumeration");
    assert_eq!(report.findings[0].column_name.as_deref(), Some("proposal_type"));
    let keyless = store.create(Collection::ClientConfigs, br#"{"client_name": "Acme", "license_type": "basic"}"#);
    assert!(matches!(keyless, Err(Error::Invalid(r)) if r.findings[0].column_name.as_deref() == Some("client_id")));
}

fn stale_versions_are_refused_and_put_keeps_secrets_it_leaves_out(db: &TestDatabase) {
    let (store, _) = store(db);
    store.create(Collection::ConnectorProfiles, &profile("p-1", "sql")).unwrap();
    let before = stored_secrets(db, "p-1");
    let update = br#"{"name": "Renamed", "type": "api", "credentials": {"username": "other"}}"#;
    let stale = store.replace(Collection::ConnectorProfiles, "p-1", update, Expect::Version(7)).unwrap_err();
    assert!(matches!(stale, Error::Stale { expected: 7, current: 1, .. }), "{stale}");
    let replaced = store.replace(Collection::ConnectorProfiles, "p-1", update, Expect::Version(1)).unwrap();
    assert_eq!(replaced.version, 2);
    assert_eq!(replaced.representation()["name"], "Renamed");
    assert_eq!(replaced.representation()["secret_fields"], json!(["connection_string", "credentials.password"]));
    assert_eq!(stored_secrets(db, "p-1"), before, "left out: kept as they were");
    let cleared = store
        .replace(
            Collection::ConnectorProfiles,
            "p-1",
            br#"{"name": "R", "type": "api", "connection_string": null}"#,
            Expect::Version(2),
        )
        .unwrap();
    assert_eq!(cleared.representation()["secret_fields"], json!(["credentials.password"]));
    let mismatch = store.replace(
        Collection::ConnectorProfiles,
        "p-1",
        br#"{"id": "p-2", "name": "R", "type": "api"}"#,
        Expect::Version(3),
    );
    assert!(matches!(mismatch, Err(Error::Invalid(_))));
    let gone = store.replace(Collection::ConnectorProfiles, "nope", update, Expect::Version(1)).unwrap_err();
    assert!(matches!(gone, Error::NotFound { .. }), "{gone}");
}

fn patch_merges_and_validates_the_result(db: &TestDatabase) {
    let (store, _) = store(db);
    let proposal = br#"{"proposal_id": "prop-001", "client_id": "c-1", "proposal_type": "implementation", "status": "draft", "pricing": {"total": 10, "breakdown": {"a": 1}}}"#;
    store.create(Collection::ServiceProposals, proposal).unwrap();
    let patched = store
        .patch(
            Collection::ServiceProposals,
            "prop-001",
            br#"{"status": "sent", "pricing": {"breakdown": null}}"#,
            Expect::Version(1),
        )
        .unwrap();
    assert_eq!(patched.representation()["status"], "sent");
    assert_eq!(patched.representation()["pricing"], json!({"total": 10}));
    let bad = store
        .patch(Collection::ServiceProposals, "prop-001", br#"{"status": "lost"}"#, Expect::Version(2))
        .unwrap_err();
    assert!(matches!(bad, Error::Invalid(_)), "{bad}");
    assert_eq!(store.get(Collection::ServiceProposals, "prop-001").unwrap().version, 2, "nothing written");
    store.create(Collection::ConnectorProfiles, &profile("p-1", "sql")).unwrap();
    let secret = store
        .patch(Collection::ConnectorProfiles, "p-1", br#"{"credentials": {"password": null}}"#, Expect::Version(1))
        .unwrap();
    assert_eq!(secret.representation()["secret_fields"], json!(["connection_string"]));
    assert_eq!(secret.representation()["credentials"], json!({"username": "reporting"}));
}

fn delete_honours_the_version(db: &TestDatabase) {
    let (store, _) = store(db);
    store.create(Collection::ConnectorProfiles, &profile("p-1", "sql")).unwrap();
    let stale = store.delete(Collection::ConnectorProfiles, "p-1", Expect::Version(2)).unwrap_err();
    assert!(matches!(stale, Error::Stale { current: 1, .. }));
    store.delete(Collection::ConnectorProfiles, "p-1", Expect::Version(1)).unwrap();
    assert!(matches!(store.get(Collection::ConnectorProfiles, "p-1"), Err(Error::NotFound { .. })));
    assert!(matches!(store.delete(Collection::ConnectorProfiles, "p-1", Expect::Any), Err(Error::NotFound { .. })));
}

fn lists_filter_page_newest_first_and_bound_by_time(db: &TestDatabase) {
    let (store, _) = store(db);
    for i in 0..7 {
        store
            .create(Collection::ConnectorProfiles, &profile(&format!("p-{i}"), if i % 2 == 0 { "sql" } else { "api" }))
            .unwrap();
        // SQLite keeps milliseconds: apart, so the time bounds below split them (rows of one
        // millisecond are still ordered, by key).
        std::thread::sleep(std::time::Duration::from_millis(3));
    }
    let mut query = ListQuery { filters: vec![("type", "sql".into())], limit: 2, ..ListQuery::default() };
    let mut seen = Vec::new();
    loop {
        let page = store.list(Collection::ConnectorProfiles, &query).unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|s| s.key.clone()));
        match page.next {
            Some(token) => query.page_token = Some(token),
            None => break,
        }
    }
    assert_eq!(seen, ["p-6", "p-4", "p-2", "p-0"]);
    let middle = store.get(Collection::ConnectorProfiles, "p-3").unwrap().created_at;
    let after = ListQuery { created_after: Some(middle), limit: 50, ..ListQuery::default() };
    let keys: Vec<String> =
        store.list(Collection::ConnectorProfiles, &after).unwrap().items.into_iter().map(|s| s.key).collect();
    assert_eq!(keys, ["p-6", "p-5", "p-4"]);
    let before = ListQuery { created_before: Some(middle), limit: 50, ..ListQuery::default() };
    assert_eq!(store.list(Collection::ConnectorProfiles, &before).unwrap().items.len(), 3);
    let bad = ListQuery { page_token: Some("garbage".into()), limit: 5, ..ListQuery::default() };
    assert!(matches!(store.list(Collection::ConnectorProfiles, &bad), Err(Error::BadPageToken)));
}

fn rotation_reseals_every_secret_once_and_can_run_again(db: &TestDatabase) {
    let (old_store, old_key) = store(db);
    for i in 0..5 {
        old_store.create(Collection::ConnectorProfiles, &profile(&format!("p-{i}"), "sql")).unwrap();
    }
    let new_key = Keyring::generate_line("k2").unwrap();
    let rotated = Store::new(db.database().clone(), Some(keys(&[&new_key, &old_key])));
    let versions = |store: &Store| -> Vec<i64> {
        (0..5).map(|i| store.get(Collection::ConnectorProfiles, &format!("p-{i}")).unwrap().version).collect()
    };
    let mut batches = 0;
    let first = rotated.rotate(2, &mut |_| batches += 1).unwrap();
    assert_eq!((first.rotated, first.current, first.active_key.as_str()), (5, 0, "k2"));
    assert!(batches >= 3, "{batches}");
    assert!(stored_secrets(db, "p-3")["connection_string"].as_str().unwrap().starts_with("v1:k2:"));
    assert_eq!(versions(&rotated), [1; 5], "a rotation changes no document");
    let second = rotated.rotate(2, &mut |_| {}).unwrap();
    assert_eq!((second.rotated, second.current), (0, 5));
    // The old key alone no longer opens them; the new one alone does (a PATCH re-reads nothing
    // secret, so open them through a rotation to a third key).
    let only_new = Store::new(db.database().clone(), Some(keys(&[&Keyring::generate_line("k3").unwrap(), &new_key])));
    assert_eq!(only_new.rotate(10, &mut |_| {}).unwrap().rotated, 5);
    let only_old = Store::new(db.database().clone(), Some(keys(&[&Keyring::generate_line("k4").unwrap(), &old_key])));
    let error = only_old.rotate(10, &mut |_| {}).unwrap_err().to_string();
    assert!(error.contains("sealed with key \"k3\", which is not among the configured keys"), "{error}");
}

/// A rotation stopped after its first batch (a crash) keeps what it committed, and the next
/// run finishes the rest.
fn a_stopped_rotation_is_finished_by_the_next(db: &TestDatabase) {
    let (old_store, old_key) = store(db);
    for i in 0..6 {
        old_store.create(Collection::ConnectorProfiles, &profile(&format!("p-{i}"), "sql")).unwrap();
    }
    let new_key = Keyring::generate_line("k2").unwrap();
    let rotated = Store::new(db.database().clone(), Some(keys(&[&new_key, &old_key])));
    let stopped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rotated.rotate(2, &mut |_| panic!("killed after the first batch"))
    }));
    assert!(stopped.is_err());
    let sealed_with = |key: &str| {
        (0..6)
            .filter(|i| stored_secrets(db, &format!("p-{i}"))["connection_string"].as_str().unwrap().starts_with(key))
            .count()
    };
    assert_eq!((sealed_with("v1:k2:"), sealed_with("v1:k1:")), (2, 4), "the first batch committed, alone");
    let finished = rotated.rotate(2, &mut |_| {}).unwrap();
    assert_eq!((finished.rotated, finished.current), (4, 2));
    assert_eq!(sealed_with("v1:k2:"), 6);
}

/// `created_after` and `created_before` are served by the seed's `created_at` index: the plan
/// of a list bounded by time, over 20 000 profiles created a minute apart, searches that index
/// (a range, read backwards for newest first) rather than scanning the table; a time bound
/// beside a type filter is served by an index too.
fn time_bounds_use_the_created_at_index(db: &TestDatabase) {
    let (store, _) = store(db);
    let fill = match db.backend() {
        migration_core::Backend::Postgres => {
            "INSERT INTO connector_profiles (id, profile_data, created_at, updated_at)
             SELECT 'p' || g, jsonb_build_object('id', 'p' || g, 'name', 'P', 'type', CASE WHEN g % 3 = 0 THEN 'sql' ELSE 'rest' END),
                    TIMESTAMPTZ '2025-01-01 00:00:00+00' + g * INTERVAL '1 minute', now()
             FROM generate_series(1, 20000) g;
             ANALYZE connector_profiles"
        }
        migration_core::Backend::Sqlite => {
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 20000)
             INSERT INTO connector_profiles (id, profile_data, created_at, updated_at)
             SELECT 'p' || n, json_object('id', 'p' || n, 'name', 'P', 'type', CASE WHEN n % 3 = 0 THEN 'sql' ELSE 'rest' END),
                    strftime('%Y-%m-%d %H:%M:%f', '2025-01-01', '+' || n || ' minutes'), CURRENT_TIMESTAMP
             FROM g;
             ANALYZE"
        }
    };
    db.database().get().unwrap().batch_execute(fill).unwrap();
    let at = |day: u32| chrono::NaiveDate::from_ymd_opt(2025, 1, day).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
    for query in [
        ListQuery { created_after: Some(at(12)), limit: 50, ..ListQuery::default() },
        ListQuery { created_before: Some(at(3)), limit: 50, ..ListQuery::default() },
        ListQuery { created_after: Some(at(10)), created_before: Some(at(11)), limit: 50, ..ListQuery::default() },
    ] {
        let plan = store.list_plan(Collection::ConnectorProfiles, &query).unwrap();
        assert!(plan.contains("ix_connector_profiles_created_at"), "{query:?}:\n{plan}");
        assert!(!plan.contains("Seq Scan") && !plan.contains("SCAN connector_profiles"), "{plan}");
        let page = store.list(Collection::ConnectorProfiles, &query).unwrap();
        assert!(page.items.iter().all(|item| query.created_after.is_none_or(|after| item.created_at > after)));
        assert!(page.items.iter().all(|item| query.created_before.is_none_or(|before| item.created_at < before)));
        assert_eq!(page.items.len(), 50, "{query:?}");
    }
    let typed = ListQuery {
        filters: vec![("type", "sql".into())],
        created_after: Some(at(12)),
        limit: 50,
        ..ListQuery::default()
    };
    // (Which of the two indexes the planner takes depends on the statistics; never the table.)
    let plan = store.list_plan(Collection::ConnectorProfiles, &typed).unwrap();
    assert!(plan.contains("ix_connector_profiles_"), "{plan}");
    assert!(!plan.contains("Seq Scan") && !plan.contains("SCAN connector_profiles"), "{plan}");
}

on_both_backends!(
    time_bounds_use_the_created_at_index,
    a_stopped_rotation_is_finished_by_the_next,
    a_document_round_trips_without_its_secrets,
    documents_without_secrets_need_no_key_but_secrets_do,
    bad_documents_are_refused_with_the_validators_findings,
    stale_versions_are_refused_and_put_keeps_secrets_it_leaves_out,
    patch_merges_and_validates_the_result,
    delete_honours_the_version,
    lists_filter_page_newest_first_and_bound_by_time,
    rotation_reseals_every_secret_once_and_can_run_again,
);
