//! Hostile input: what no well-behaved client sends, through HTTP to the running services and
//! through the CLI, each answered with a clear refusal (4xx and problem+json over HTTP; exit
//! 1 naming the file, line and rule on the CLI), the database unchanged. And names from input
//! never reach SQL text: quotes, semicolons and comment markers in every text field of every
//! kind are stored verbatim.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use migration_core::Backend;
use test_support::ScratchDatabase;
use test_support::http::ServiceProcess;

use crate::crash::{Env, alm_bookkeeping, rotation};
use crate::ops::sql;
use crate::report::Row;
use crate::state::{self, State};

/// Text that would end a quoted SQL literal, start another statement and comment out the
/// rest, were it ever spliced into SQL.
pub const HOSTILE: &str = "O'Brien\"; DROP TABLE x; -- /* */ ' OR '1'='1";

/// The request timeout the services are started with here: a slow client is cut off after it.
const TIMEOUT: &str = "2";

/// A request's answer: status and body.
struct Answer {
    status: u16,
    body: String,
}

/// Sends `head` then `body` as `sending` says; reads the answer.
fn send(address: SocketAddr, head: &str, body: &[u8], sending: Sending) -> Result<Answer, String> {
    let mut stream = TcpStream::connect(address).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
    stream.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
    if sending == Sending::Slowly {
        // Look for the answer without waiting for it.
        stream.set_read_timeout(Some(Duration::from_millis(1))).map_err(|e| e.to_string())?;
        for byte in body {
            // The service answers and closes once it gives up: stop sending then.
            if stream.write_all(&[*byte]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
            if stream.peek(&mut [0]).is_ok_and(|n| n > 0) {
                break;
            }
        }
        stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
    } else if sending == Sending::CutOff {
        let _ = stream.write_all(&body[..body.len() / 2]);
        let _ = stream.shutdown(Shutdown::Write);
    } else {
        let _ = stream.write_all(body);
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).ok_or_else(|| format!("no answer: {text:?}"))?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    Ok(Answer { status, body })
}

fn head(path: &str, content_type: &str, length: usize) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: intake\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n"
    )
}

/// One hostile request: answered `expected` with a problem+json body, nothing written.
struct Case {
    name: &'static str,
    path: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
    send: Sending,
    expected: u16,
}

/// How a case's body is sent.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sending {
    Whole,
    /// A byte a second.
    Slowly,
    /// Half of it, then the write side closed.
    CutOff,
}

impl Case {
    fn new(name: &'static str, path: &'static str, content_type: &'static str, body: Vec<u8>, expected: u16) -> Case {
        Case { name, path, content_type, body, send: Sending::Whole, expected }
    }

    fn sent(self, send: Sending) -> Case {
        Case { send, ..self }
    }
}

/// What every route that takes a body must refuse: a slow client, a body over `limit`
/// bytes, a body cut off; `good` is a body the route would take.
fn transport_cases(path: &'static str, content_type: &'static str, good: &[u8], limit: usize) -> Vec<Case> {
    vec![
        Case::new("a slow client (a byte a second)", path, content_type, good.to_vec(), 408).sent(Sending::Slowly),
        Case::new("a body over the limit", path, content_type, vec![b' '; limit + 1], 413),
        Case::new("a body cut off mid-way", path, content_type, good.to_vec(), 400).sent(Sending::CutOff),
    ]
}

fn cases_for_documents() -> Vec<Case> {
    let document = br#"{"id": "slow", "name": "Slow", "type": "sql"}"#.to_vec();
    let (path, json) = ("/connector/profiles", "application/json");
    let mut cases = transport_cases(path, json, &document, 1 << 20);
    let bad = b"{\"id\": \"\xff\xfe\", \"name\": \"x\", \"type\": \"sql\"}".to_vec();
    cases.push(Case::new("malformed UTF-8", path, json, bad, 400));
    let deep = [b"{\"name\": ".to_vec(), b"[".repeat(100_000), b"]".repeat(100_000), b"}".to_vec()].concat();
    cases.push(Case::new("deeply nested JSON (100 000 levels)", path, json, deep, 400));
    cases.push(Case::new("another media type", path, "text/xml", document, 415));
    cases
}

/// The upload service's body limit here.
const UPLOAD_LIMIT: usize = 100_000;

fn cases_for_uploads() -> Vec<Case> {
    let stores = fixtures::retail::store_attributes(&fixtures::retail::store_ids(3)).into_bytes();
    let (path, csv) = ("/uploads/store_attributes", "text/csv");
    let mut cases = transport_cases(path, csv, &stores, UPLOAD_LIMIT);
    let mut bad = stores;
    let at = bad.len() - 10;
    bad[at] = 0xff;
    cases.push(Case::new("malformed UTF-8", path, csv, bad, 422));
    cases
}

fn run_cases(row: &mut Row, service: &ServiceProcess, url: &str, cases: Vec<Case>) -> Result<(), String> {
    let before = State::read(url, &[])?;
    for case in cases {
        let started = std::time::Instant::now();
        let answer =
            send(service.address, &head(case.path, case.content_type, case.body.len()), &case.body, case.send)?;
        let problem = serde_json::from_str::<serde_json::Value>(&answer.body).ok();
        let detail = problem.as_ref().and_then(|p| p["detail"].as_str()).unwrap_or("").to_owned();
        if answer.status != case.expected || detail.is_empty() {
            row.fail(format!(
                "{}: answered {} (expected {} with a problem+json detail): {}",
                case.name, answer.status, case.expected, answer.body
            ));
            continue;
        }
        let after = State::read(url, &[])?;
        match before.differences(&after).first() {
            Some(difference) => row.fail(format!("{}: answered {} but wrote: {difference}", case.name, answer.status)),
            None => row.pass("refused, nothing written"),
        }
        row.figures.push_str(&format!(
            "{} → {} ({:.1} s); ",
            case.name,
            answer.status,
            started.elapsed().as_secs_f64()
        ));
    }
    Ok(())
}

/// The connector service and the upload service, each sent every hostile request.
pub fn http(env: &Env, connector: &Path, upload: &Path, backend: Backend) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    let db = ScratchDatabase::new(backend);
    env.run(db.url(), &["migrate", "run"])?;
    let documents = cases_for_documents();
    let mut row = Row::new("connector service: hostile requests", backend, documents.len() as u32);
    let service = ServiceProcess::start(
        connector,
        &["--listen", "127.0.0.1:0", "--database-url", db.url(), "--request-timeout", TIMEOUT],
        &[("INTAKE_SECRET_KEY", rotation::KEYS), ("RUST_LOG", "warn")],
    );
    run_cases(&mut row, &service, db.url(), documents)?;
    drop(service);
    rows.push(row);
    let uploads = cases_for_uploads();
    let mut row = Row::new("upload service: hostile requests", backend, uploads.len() as u32);
    let service = ServiceProcess::start(
        upload,
        &[
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            db.url(),
            "--request-timeout",
            TIMEOUT,
            "--body-limit",
            &UPLOAD_LIMIT.to_string(),
        ],
        &[("RUST_LOG", "warn")],
    );
    run_cases(&mut row, &service, db.url(), uploads)?;
    drop(service);
    rows.push(row);
    Ok(rows)
}

/// IB Flex files with a DOCTYPE: an entity-expansion bomb and an external entity pointing
/// at a listener here, which must see no connection. Both refused, nothing written.
pub fn xml(env: &Env, backend: Backend) -> Result<Row, String> {
    let mut row = Row::new("ALM import: XML bomb and external entity", backend, 2);
    let db = ScratchDatabase::new(backend);
    env.run(db.url(), &["migrate", "run"])?;
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let fetched = Arc::new(AtomicBool::new(false));
    let statement = |symbol: &str| {
        format!(
            "<FlexQueryResponse queryName=\"x\" type=\"AF\"><FlexStatements count=\"1\"><FlexStatement accountId=\"U1\" fromDate=\"20250801\" toDate=\"20250801\" period=\"LastBusinessDay\" whenGenerated=\"20250801;200000\"><Trades>\
             <Trade accountId=\"U1\" symbol=\"{symbol}\" transactionID=\"1\" quantity=\"1\" tradePrice=\"1\" dateTime=\"20250801;100000\" /></Trades></FlexStatement></FlexStatements></FlexQueryResponse>\n"
        )
    };
    let mut bomb = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol0 \"lol\">\n");
    for level in 1..10 {
        let previous = format!("&lol{};", level - 1).repeat(10);
        bomb.push_str(&format!("<!ENTITY lol{level} \"{previous}\">\n"));
    }
    bomb.push_str("]>\n");
    bomb.push_str(&statement("&lol9;"));
    let external = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY ext SYSTEM \"http://127.0.0.1:{port}/secret\">]>\n{}",
        statement("&ext;")
    );
    let before = State::read(db.url(), &[])?;
    for (name, text) in [("bomb.xml", bomb), ("external.xml", external)] {
        let path = env.files.join(name);
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
        let output =
            env.intake(db.url(), &["alm", "import", "--date", "2025-08-01", &path.display().to_string()]).output();
        let output = output.map_err(|e| e.to_string())?;
        if listener.accept().is_ok() {
            fetched.store(true, Ordering::Relaxed);
        }
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        let refused = output.status.code() == Some(1) && text.contains(name) && text.contains("rule xml");
        let data = State::read(db.url(), &[])?;
        // The run's own bookkeeping says FAILED: the data must not change.
        let bookkeeping = alm_bookkeeping(backend);
        let unchanged = before.without(&bookkeeping) == data.without(&bookkeeping);
        if !refused {
            row.fail(format!("{name}: not refused with the file, line and rule: {text}"));
        } else if !unchanged {
            row.fail(format!("{name}: refused but data was written: {:?}", before.differences(&data)));
        } else {
            row.pass("refused, nothing written");
        }
    }
    if fetched.load(Ordering::Relaxed) {
        row.fail("the external entity was fetched");
    }
    row.figures = "entities are never expanded or fetched: the import names the entity, line and column".to_owned();
    Ok(row)
}

/// Quotes, semicolons and comment markers through every text field of every kind: each
/// stored verbatim.
pub fn verbatim(env: &Env, connector: &Path, demo_config: &Path, backend: Backend) -> Result<Row, String> {
    let mut row = Row::new("names from input stored verbatim (never SQL text)", backend, 6);
    let db = ScratchDatabase::new(backend);
    env.run(db.url(), &["migrate", "run"])?;
    let csv = |cell: &str| format!("\"{}\"", cell.replace('"', "\"\""));
    let text = |field: &str| format!("{field} {HOSTILE}");

    // NinjaTrader: instrument, order name, account, connection.
    let mut execution = fixtures::ninjatrader::Execution::sample(1);
    (execution.instrument, execution.name, execution.account, execution.connection) =
        (fit(&text("MNQ"), 45), text("name"), fit(&text("acct"), 48), text("conn"));
    let cells = [
        csv(&execution.instrument),
        execution.action.clone(),
        "1".into(),
        execution.price.clone(),
        csv(&execution.time),
        execution.id.clone(),
        execution.entry_exit.clone(),
        csv(&execution.position),
        execution.order_id.clone(),
        csv(&execution.name),
        execution.commission.clone(),
        execution.rate.clone(),
        csv(&execution.account),
        csv(&execution.connection),
    ];
    let export = format!("{},\n{},\n", fixtures::ninjatrader::HEADER, cells.join(","));
    let path = env.files.join("hostile-executions.csv");
    std::fs::write(&path, export).map_err(|e| e.to_string())?;
    let imported = env.run(db.url(), &["executions", "import", &path.display().to_string()]);
    check(
        &mut row,
        "executions",
        imported,
        db.url(),
        "SELECT instrument || '|' || name || '|' || account || '|' || connection AS v FROM trades",
        &format!("{}|{}|{}|{}", execution.instrument, execution.name, execution.account, execution.connection),
    )?;

    // Store attributes: the store's name (the id is a key: a plain one).
    let stores = format!(
        "{}\nS001,{},40000,20000,90000,A,Premium,MALL,NORTHEAST\n",
        fixtures::retail::STORE_HEADER,
        csv(&fit(&text("Store"), 60))
    );
    let path = env.files.join("hostile-stores.csv");
    std::fs::write(&path, stores).map_err(|e| e.to_string())?;
    let uploaded = env.run(db.url(), &["uploads", "store-attributes", &path.display().to_string()]);
    check(
        &mut row,
        "store attributes",
        uploaded,
        db.url(),
        "SELECT store_name AS v FROM stores",
        &fit(&text("Store"), 60),
    )?;

    // Historical sales: a category named by its display name, matched as a value.
    let category = fit(&text("Dresses"), 100);
    sql(
        db.url(),
        &format!(
            "INSERT INTO categories (category_id, category_name) VALUES ('hostile', '{}')",
            category.replace('\'', "''")
        ),
    )?;
    let sales = format!("{}\n2025-03-03,{},S001,3,29.97\n", fixtures::retail::SALES_HEADER, csv(&category));
    let path = env.files.join("hostile-sales.csv");
    std::fs::write(&path, sales).map_err(|e| e.to_string())?;
    let uploaded = env.run(db.url(), &["uploads", "historical-sales", &path.display().to_string()]);
    check(
        &mut row,
        "historical sales",
        uploaded,
        db.url(),
        "SELECT category_id AS v FROM historical_sales",
        "hostile",
    )?;

    // ALM: symbol and description, escaped as XML attributes.
    let attribute =
        |value: &str| value.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('\'', "&apos;");
    let flex = format!(
        "<FlexQueryResponse queryName=\"x\" type=\"AF\"><FlexStatements count=\"1\"><FlexStatement accountId=\"U1\" fromDate=\"20250801\" toDate=\"20250801\" period=\"LastBusinessDay\" whenGenerated=\"20250801;200000\"><Trades>\
         <Trade accountId=\"U1\" symbol=\"{}\" description=\"{}\" transactionID=\"1\" quantity=\"1\" tradePrice=\"1\" dateTime=\"20250801;100000\" /></Trades></FlexStatement></FlexStatements></FlexQueryResponse>\n",
        attribute(&fit(&text("ES"), 60)),
        attribute(&text("description")),
    );
    let path = env.files.join("Trades_hostile.xml");
    std::fs::write(&path, flex).map_err(|e| e.to_string())?;
    let imported = env.run(db.url(), &["alm", "import", "--date", "2025-08-01", &path.display().to_string()]);
    let events = state::table(backend, "alm_reporting.chronological_events");
    check(
        &mut row,
        "ALM events",
        imported,
        db.url(),
        &format!("SELECT symbol || '|' || description AS v FROM {events}"),
        &format!("{}|{}", &fit(&text("ES"), 60), text("description")),
    )?;

    // A connector profile: its id, name and username, through the service.
    let service = ServiceProcess::start(
        connector,
        &["--listen", "127.0.0.1:0", "--database-url", db.url()],
        &[("INTAKE_SECRET_KEY", rotation::KEYS), ("RUST_LOG", "warn")],
    );
    let id = fit(&text("id"), 40);
    let document =
        serde_json::json!({"id": id, "name": text("name"), "type": "sql", "credentials": {"username": text("user")}});
    let answer = service.send_json("POST", "/connector/profiles", &[], &document);
    drop(service);
    let stored = if answer.status == 201 {
        Ok(String::new())
    } else {
        Err(format!("POST answered {}: {}", answer.status, answer.body))
    };
    let (name, user) = match backend {
        Backend::Postgres => ("profile_data ->> 'name'", "profile_data -> 'credentials' ->> 'username'"),
        Backend::Sqlite => {
            ("json_extract(profile_data, '$.name')", "json_extract(profile_data, '$.credentials.username')")
        }
    };
    check(
        &mut row,
        "connector profile",
        stored,
        db.url(),
        &format!("SELECT id || '|' || ({name}) || '|' || ({user}) AS v FROM connector_profiles"),
        &format!("{id}|{}|{}", text("name"), text("user")),
    )?;

    // A client configuration and a service proposal: keys, names, a module and a consultant,
    // through the demo config service, filtered by a hostile client_id too.
    let service = ServiceProcess::start(
        demo_config,
        &["--listen", "127.0.0.1:0", "--database-url", db.url()],
        &[("RUST_LOG", "warn")],
    );
    let client = fit(&text("client"), 40);
    let config = serde_json::json!({"client_id": client, "client_name": text("Client"), "license_type": "basic", "modules": [text("module")]});
    let proposal = serde_json::json!({"proposal_id": fit(&text("proposal"), 40), "client_id": client, "proposal_type": "consulting", "status": "draft", "resources": {"consultants": [text("consultant")]}});
    let posted = [("/demo/clients", &config), ("/demo/proposals", &proposal)]
        .into_iter()
        .map(|(path, body)| service.send_json("POST", path, &[], body))
        .find(|answer| answer.status != 201);
    let query: String = url::form_urlencoded::Serializer::new(String::new()).append_pair("client_id", &client).finish();
    let filtered = service.request("GET", &format!("/demo/proposals?{query}"), &[], None);
    drop(service);
    let stored = match posted {
        Some(answer) => Err(format!("POST answered {}: {}", answer.status, answer.body)),
        None if filtered.json()["items"].as_array().map(Vec::len) != Some(1) => {
            Err(format!("?client_id= with the hostile id found {}", filtered.body))
        }
        None => Ok(String::new()),
    };
    let (name, module, consultant) = match backend {
        Backend::Postgres => (
            "config_data ->> 'client_name'",
            "config_data -> 'modules' ->> 0",
            "(SELECT proposal_data -> 'resources' -> 'consultants' ->> 0 FROM service_proposals)",
        ),
        Backend::Sqlite => (
            "json_extract(config_data, '$.client_name')",
            "json_extract(config_data, '$.modules[0]')",
            "(SELECT json_extract(proposal_data, '$.resources.consultants[0]') FROM service_proposals)",
        ),
    };
    check(
        &mut row,
        "client configuration and proposal",
        stored,
        db.url(),
        &format!(
            "SELECT client_id || '|' || ({name}) || '|' || ({module}) || '|' || {consultant} AS v FROM client_configs"
        ),
        &format!("{client}|{}|{}|{}", text("Client"), text("module"), text("consultant")),
    )?;
    // Every table is still there: nothing was ever run as SQL.
    sql(db.url(), "SELECT count(*) FROM trades")?;
    row.figures = format!(
        "{HOSTILE:?} in: executions' instrument, order name, account, connection; a store's name; a category's display name (matched to its id); ALM symbol and description; a profile's id, name, username; a client's id, name, module; a proposal's id, client id (also as ?client_id=), consultant"
    );
    Ok(row)
}

/// `text` cut to `n` characters (a column's width).
fn fit(text: &str, n: usize) -> String {
    text.chars().take(n).collect()
}

fn check(
    row: &mut Row,
    what: &str,
    imported: Result<String, String>,
    url: &str,
    query: &str,
    expected: &str,
) -> Result<(), String> {
    if let Err(error) = imported {
        row.fail(format!("{what}: not imported: {error}"));
        return Ok(());
    }
    #[derive(diesel::QueryableByName)]
    struct Value {
        #[diesel(sql_type = diesel::sql_types::Text)]
        v: String,
    }
    let values: Vec<Value> = state::load(url, query)?;
    match values.as_slice() {
        [one] if one.v == expected => row.pass("stored verbatim"),
        other => row.fail(format!(
            "{what}: stored {:?}, expected {expected:?}",
            other.iter().map(|v| &v.v).collect::<Vec<_>>()
        )),
    }
    Ok(())
}
