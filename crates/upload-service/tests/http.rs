//! The upload service binary over real HTTP, on both backends: a week uploaded and answered
//! with the validator's report exactly as the browser's validator writes it plus the stored
//! counts; a second upload refused (409) unless `replace=true`; a bad row answered 422 with
//! the findings and nothing written; bodies streamed in chunks, over the limit (413, early
//! and mid-stream) and cut off (400), none writing anything; NinjaTrader exports; bad query
//! parameters, kinds and media types; a held upload answered 503 at its time limit, writing
//! nothing; logs without bodies; a clean stop on SIGTERM.

use std::io::Write as _;
use std::net::TcpStream;

use fixtures::retail::{self, Day};
use serde_json::Value;
use test_support::http::{Response, ServiceProcess, read_response};
use test_support::{TestDatabase, on_both_backends};
use upload_validator::{Context, PayloadKind, Validator};

const BINARY: &str = env!("CARGO_BIN_EXE_upload-service");

const PLANNING: &str = "
    INSERT INTO categories (category_id, category_name) VALUES ('womens_dresses', 'Women''s Dresses');
    INSERT INTO workflows (workflow_id, category_id, season_start) VALUES ('spring', 'womens_dresses', '2025-03-01');
    INSERT INTO workflow_forecasts (workflow_id, week_number, store_id, forecast_units_sold)
        SELECT 'spring', 1, store_id, 100 FROM stores;
";

/// Starts the service (it applies the migrations), uploads `stores` store attributes through
/// it and adds a category, a workflow starting 2025-03-01 and forecasts of 100 for week 1.
fn start(db: &TestDatabase, stores: usize, extra: &[&str]) -> (ServiceProcess, Vec<String>) {
    let mut args = vec!["--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let service = ServiceProcess::start(BINARY.as_ref(), &args, &[("DATABASE_URL", db.url())]);
    let ids = retail::store_ids(stores);
    let response =
        post(&service, "/uploads/store_attributes?name=stores.csv", retail::store_attributes(&ids).as_bytes());
    assert_eq!(response.status, 200, "{}", response.text());
    db.database().get().unwrap().batch_execute(PLANNING).unwrap();
    (service, ids)
}

fn post(service: &ServiceProcess, path: &str, body: &[u8]) -> Response {
    service.request("POST", path, &[("Content-Type", "text/csv")], Some(body))
}

fn problem(response: &Response, status: u16) -> Value {
    assert_eq!(response.status, status, "{}", response.text());
    assert_eq!(response.header("content-type"), Some("application/problem+json"), "{}", response.text());
    response.json()
}

fn count(db: &TestDatabase, table: &str) -> i64 {
    upload::stats(db.database()).unwrap().into_iter().find(|(t, _)| *t == table).unwrap().1
}

/// What the browser's validator (the same crate, in WebAssembly) writes for `file`, checked
/// against the context the service gives it.
fn browser_report(service: &ServiceProcess, kind: PayloadKind, query: &str, file: &[u8]) -> String {
    let context = service.request("GET", &format!("/uploads/{}/context{query}", kind.name()), &[], None);
    assert_eq!(context.status, 200, "{}", context.text());
    let mut validator = Validator::new(kind, Context::from_json(kind, &context.body).unwrap()).unwrap();
    validator.push(file);
    validator.finish().to_json()
}

fn a_week_is_stored_and_answered_with_the_browsers_report(db: &TestDatabase) {
    let (service, ids) = start(db, 5, &[]);
    let query = "?workflow_id=spring&week_number=1";
    let week = retail::weekly_actuals(Day::ymd(2025, 3, 1), &ids, |day, store| 14 + (day + store) as u64 % 3);
    let response = post(&service, &format!("/uploads/weekly_actuals{query}&name=week-1.csv"), week.as_bytes());
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("content-type"), Some("application/json"));
    let expected = browser_report(&service, PayloadKind::WeeklyActuals, query, week.as_bytes());
    assert!(response.body.ends_with(&format!(",\"report\":{expected}}}")), "{}\n{expected}", response.body);
    let body = response.json();
    assert_eq!((body["file"].as_str(), body["outcome"].as_str()), (Some("week-1.csv"), Some("imported")));
    assert_eq!(body["counts"]["rows_read"], 35);
    assert_eq!(body["counts"]["weekly_rows"], 5);
    // 104 to 106 units a store against forecasts of 100: within 10 %.
    assert_eq!(body["counts"]["normal"], 5, "{body}");
    assert_eq!(count(db, "weekly_actuals"), 5);

    let again = post(&service, &format!("/uploads/weekly_actuals{query}"), week.as_bytes());
    let conflict = problem(&again, 409);
    assert_eq!(conflict["rule"], "week-already-uploaded");
    assert!(conflict["detail"].as_str().unwrap().contains("upload with replace"), "{conflict}");
    let replaced = post(&service, &format!("/uploads/weekly_actuals{query}&replace=true"), week.as_bytes());
    assert_eq!(replaced.status, 200, "{}", replaced.text());
    assert_eq!(replaced.json()["counts"]["replaced"], 5);
    assert_eq!(count(db, "weekly_actuals"), 5);
}

fn a_bad_row_is_answered_422_with_its_finding_and_nothing_written(db: &TestDatabase) {
    let (service, ids) = start(db, 3, &[]);
    let query = "?workflow_id=spring&week_number=1";
    let week =
        retail::weekly_actuals(Day::ymd(2025, 3, 1), &ids, |_, _| 7).replace("2025-03-04,S002,7", "2025-03-04,S002,-7");
    let response = post(&service, &format!("/uploads/weekly_actuals{query}"), week.as_bytes());
    let body = problem(&response, 422);
    let expected = browser_report(&service, PayloadKind::WeeklyActuals, query, week.as_bytes());
    assert!(response.body.ends_with(&format!(",\"report\":{expected}}}")), "{}", response.body);
    let finding = &body["report"]["findings"][0];
    assert_eq!((finding["line"].as_u64(), finding["column"].as_u64()), (Some(12), Some(3)), "{body}");
    assert_eq!(finding["rule"], "non-negative-integer");
    assert!(body["detail"].as_str().unwrap().contains("1 rows with errors"), "{body}");
    assert_eq!(count(db, "weekly_actuals"), 0);
}

/// Sends `chunks` with `Transfer-Encoding: chunked`, optionally stopping before the end.
fn send_chunked(service: &ServiceProcess, path: &str, chunks: &[&[u8]], finish: bool) -> Response {
    let mut stream = TcpStream::connect(service.address).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .unwrap();
    for chunk in chunks {
        // The service may answer (413) and close before reading everything.
        let _ = write!(stream, "{:x}\r\n", chunk.len())
            .and_then(|()| stream.write_all(chunk))
            .and_then(|()| stream.write_all(b"\r\n"));
    }
    if finish {
        let _ = stream.write_all(b"0\r\n\r\n");
    } else {
        stream.shutdown(std::net::Shutdown::Write).unwrap();
    }
    read_response(stream)
}

fn bodies_are_streamed_and_limited_and_a_cut_off_one_writes_nothing(db: &TestDatabase) {
    let (service, ids) = start(db, 4, &["--body-limit", "8000"]);
    let mut sales = Vec::new();
    let rows = retail::historical_sales(Day::ymd(2022, 1, 1), 30, &["Women's Dresses"], &ids, &mut sales).unwrap();
    assert!(sales.len() < 8_000, "{}", sales.len());
    let chunks: Vec<&[u8]> = sales.chunks(1000).collect();
    let streamed = send_chunked(&service, "/uploads/historical_sales?name=sales.csv", &chunks, true);
    assert_eq!(streamed.status, 200, "{}", streamed.text());
    assert_eq!(streamed.json()["counts"]["inserted"], rows);
    assert_eq!(count(db, "historical_sales"), rows as i64);

    let mut big = sales.clone();
    let more = String::from_utf8(sales[sales.iter().position(|&b| b == b'\n').unwrap() + 1..].to_vec()).unwrap();
    big.extend_from_slice(more.replace("2022-01", "2023-01").as_bytes());
    assert!(big.len() > 8_000, "{}", big.len());
    let declared = post(&service, "/uploads/historical_sales", &big);
    assert_eq!(problem(&declared, 413)["limit_bytes"], 8_000);
    let chunks: Vec<&[u8]> = big.chunks(1000).collect();
    let midway = send_chunked(&service, "/uploads/historical_sales", &chunks, true);
    assert!(problem(&midway, 413)["detail"].as_str().unwrap().contains("nothing was written"));

    let fresh = more.replace("2022-01", "2024-01");
    let mut cut = format!("{}\n", retail::SALES_HEADER).into_bytes();
    cut.extend_from_slice(&fresh.as_bytes()[..fresh.len() / 2]);
    let chunks: Vec<&[u8]> = cut.chunks(1000).collect();
    let cut_off = send_chunked(&service, "/uploads/historical_sales", &chunks, false);
    assert!(
        problem(&cut_off, 400)["detail"].as_str().unwrap().contains("could not be read whole"),
        "{}",
        cut_off.text()
    );
    assert_eq!(count(db, "historical_sales"), rows as i64, "neither wrote anything");

    // The limit holds for NinjaTrader exports too, sent without a length.
    use fixtures::ninjatrader::{Execution, Style, export};
    let fills = export(Style::NATIVE_EN_US, (1..=200).map(Execution::sample));
    assert!(fills.len() > 8_000, "{}", fills.len());
    let chunks: Vec<&[u8]> = fills.as_bytes().chunks(1000).collect();
    let executions = send_chunked(&service, "/uploads/ninjatrader_executions", &chunks, true);
    problem(&executions, 413);
    let ledger = upload_ledger(db);
    assert_eq!(ledger, 0, "nothing imported");
}

/// Rows in the execution ledger.
fn upload_ledger(db: &TestDatabase) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut connection = db.database().get().unwrap();
    let sql = "SELECT count(*) AS n FROM imported_executions";
    migration_core::dispatch!(connection, conn => diesel::RunQueryDsl::get_result::<Count>(diesel::sql_query(sql), conn))
        .unwrap()
        .n
}

fn executions_exports_and_bad_requests(db: &TestDatabase) {
    use fixtures::ninjatrader::{Execution, Style, export};
    let (service, _) = start(db, 1, &[]);
    let file = export(Style::NATIVE_EN_US, (1..=20).map(Execution::sample));
    let response = post(&service, "/uploads/ninjatrader_executions?name=fills.csv", file.as_bytes());
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["counts"]["inserted"], 20);
    let again = post(&service, "/uploads/ninjatrader_executions?name=fills.csv", file.as_bytes());
    assert_eq!(again.json()["counts"]["already_imported"], 20, "{}", again.text());

    let missing = problem(&post(&service, "/uploads/weekly_actuals?workflow_id=spring", b"x"), 400);
    assert!(missing["detail"].as_str().unwrap().contains("week_number"), "{missing}");
    let week = problem(&post(&service, "/uploads/weekly_actuals?workflow_id=spring&week_number=0", b"x"), 400);
    assert!(week["detail"].as_str().unwrap().contains("from 1"), "{week}");
    let unknown = problem(&post(&service, "/uploads/weekly_actuals?workflow_id=autumn&week_number=1", b"x"), 404);
    assert!(unknown["detail"].as_str().unwrap().contains("\"autumn\" does not exist"), "{unknown}");
    problem(&post(&service, "/uploads/hats", b"x"), 404);
    problem(&post(&service, "/uploads/store_attributes?week=1", b"x"), 400);
    let json =
        service.request("POST", "/uploads/store_attributes", &[("Content-Type", "application/json")], Some(b"{}"));
    problem(&json, 415);
}

/// An upload held up past `--request-timeout` (another session holds the upload domain's
/// write lock) is answered 503, not left hanging, and writes nothing, even once the lock is
/// free; the log names requests but never a body's content; SIGTERM stops the service cleanly.
fn a_held_upload_times_out_and_the_service_stops_cleanly(db: &TestDatabase) {
    let (mut service, ids) = start(db, 3, &["--request-timeout", "1"]);
    let mut holder = db.database().get().unwrap();
    let lock = match db.backend() {
        migration_core::Backend::Postgres => format!(
            "BEGIN; SELECT pg_advisory_xact_lock({});",
            migration_core::AdvisoryLock::DomainWrite("upload").key()
        ),
        migration_core::Backend::Sqlite => "BEGIN IMMEDIATE; DELETE FROM weekly_actuals WHERE id = -1;".to_owned(),
    };
    holder.batch_execute(&lock).unwrap();
    let week = retail::weekly_actuals(Day::ymd(2025, 3, 1), &ids, |_, _| 5).replace(",S002,5", ",S002,54321");
    let started = std::time::Instant::now();
    let held = post(&service, "/uploads/weekly_actuals?workflow_id=spring&week_number=1", week.as_bytes());
    let waited = started.elapsed();
    problem(&held, 503);
    assert!(waited < std::time::Duration::from_secs(5), "answered after {waited:?}");
    holder.batch_execute("ROLLBACK").unwrap();
    drop(holder);
    // The import, freed, finds its time is up and commits nothing.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(count(db, "weekly_actuals"), 0);
    let log = service.log();
    assert!(log.contains("/uploads/weekly_actuals") && !log.contains("54321"), "{log}");
    assert_eq!(service.terminate(), Some(0), "{}", service.log());
}

on_both_backends!(
    a_held_upload_times_out_and_the_service_stops_cleanly,
    a_week_is_stored_and_answered_with_the_browsers_report,
    a_bad_row_is_answered_422_with_its_finding_and_nothing_written,
    bodies_are_streamed_and_limited_and_a_cut_off_one_writes_nothing,
    executions_exports_and_bad_requests,
);
