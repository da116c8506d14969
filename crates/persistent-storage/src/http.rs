//! The HTTP resources of seed 002's two services, and their start-up ([`main`]): each
//! collection is a resource at its path with POST (201 with `Location`; 409 on an existing
//! key), GET one (with `ETag`; 304 for a matching `If-None-Match`), GET a list (keyset pages,
//! filters on document fields, `created_after` / `created_before`), PUT and PATCH (JSON merge
//! patch), each of which needs `If-Match` (428 without it, 412 when stale), and DELETE
//! (`If-Match` optional). Errors are problem+json: 400 malformed JSON or query, 404, 409, 412,
//! 413 too large, 415 wrong content type, 422 a document that breaks its kind's rules, with the
//! validator's findings (line, column, path, rule).
//!
//! Diesel is blocking: every store call runs on tokio's blocking pool ([`service_kit::Blocking`]),
//! as many at once as the database pool has connections.
//! No response, log line or error holds a secret: the store never returns one.

use std::path::PathBuf;
use std::process::ExitCode;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, NaiveDate, Utc};
use migration_core::{Database, Migrator};
use secrecy::SecretString;
use serde_json::{Value, json};
use service_kit::{Blocking, Problem, ServiceArgs, read_body};
use upload_validator::report::Report;

use crate::secrets::Keyring;
use crate::{Collection, Error, Expect, ListQuery, MAX_PAGE, Store, Stored};

/// The page size when a list asks for none.
pub const DEFAULT_PAGE: u32 = 50;

/// One of seed 002's two services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// The Connector Service: `/connector/profiles`, port 8023; needs a secret key.
    Connector,
    /// The Demo Config Service: `/demo/clients` and `/demo/proposals`, port 8022.
    DemoConfig,
}

impl Service {
    /// Its binary's name.
    pub fn name(self) -> &'static str {
        match self {
            Service::Connector => "connector-service",
            Service::DemoConfig => "demo-config-service",
        }
    }

    /// The collections it serves.
    pub fn collections(self) -> &'static [Collection] {
        match self {
            Service::Connector => &[Collection::ConnectorProfiles],
            Service::DemoConfig => &[Collection::ClientConfigs, Collection::ServiceProposals],
        }
    }

    /// The port it listens on unless told otherwise (the seed's).
    pub fn default_port(self) -> u16 {
        match self {
            Service::Connector => 8023,
            Service::DemoConfig => 8022,
        }
    }

    fn needs_keys(self) -> bool {
        self.collections().iter().any(|c| !c.secret_fields().is_empty())
    }
}

#[derive(Clone)]
struct App {
    store: Store,
    body_limit: usize,
    blocking: Blocking,
}

/// The largest document body accepted unless `--body-limit` says otherwise: 1 MiB.
pub const DOCUMENT_BODY_LIMIT: usize = 1 << 20;

/// The routes of `collections` over `store`, plus `GET /health`.
pub fn router(store: Store, collections: &[Collection], body_limit: usize) -> Router {
    let blocking = Blocking::new(store.database().pool_size() as usize);
    let app = App { store, body_limit, blocking };
    let mut router = Router::new().route("/health", get(|| async { axum::Json(json!({"status": "ok"})) }));
    for &collection in collections {
        let one = format!("{}/{{key}}", collection.path());
        router = router
            .route(
                collection.path(),
                get(move |state, query| list(state, collection, query))
                    .post(move |state, headers, body| create(state, collection, headers, body)),
            )
            .route(
                &one,
                get(move |state, key, headers| read(state, collection, key, headers))
                    .put(move |state, key, headers, body| {
                        update(state, collection, Update::Replace, key, headers, body)
                    })
                    .patch(move |state, key, headers, body| {
                        update(state, collection, Update::MergePatch, key, headers, body)
                    })
                    .delete(move |state, key, headers| delete(state, collection, key, headers)),
            );
    }
    router.fallback(service_kit::not_found).with_state(app)
}

type Answer = Result<Response, Problem>;

async fn create(State(app): State<App>, collection: Collection, headers: HeaderMap, body: Body) -> Answer {
    let body = read_body(&headers, body, app.body_limit, &["application/json"]).await?;
    let store = app.store.clone();
    let stored = app.blocking.run(move || store.create(collection, &body)).await?.map_err(problem)?;
    let location = format!("{}/{}", collection.path(), percent_encode(&stored.key));
    let mut response = represent(StatusCode::CREATED, &stored);
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

async fn read(State(app): State<App>, collection: Collection, Path(key): Path<String>, headers: HeaderMap) -> Answer {
    let store = app.store.clone();
    let stored = app.blocking.run(move || store.get(collection, &key)).await?.map_err(problem)?;
    let etag = etag(stored.version);
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag || tag.trim() == "*"));
    if unchanged {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response.headers_mut().insert(header::ETAG, HeaderValue::from_str(&etag).expect("an ETag is ASCII"));
        return Ok(response);
    }
    Ok(represent(StatusCode::OK, &stored))
}

async fn list(State(app): State<App>, collection: Collection, RawQuery(query): RawQuery) -> Answer {
    let query = list_query(collection, query.as_deref().unwrap_or(""))?;
    let store = app.store.clone();
    let page = app.blocking.run(move || store.list(collection, &query)).await?.map_err(problem)?;
    let mut body = String::with_capacity(64 + page.items.iter().map(|s| s.json.len() + 1).sum::<usize>());
    body.push_str("{\"items\":[");
    for (i, stored) in page.items.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&stored.json);
    }
    body.push_str("],\"next_page_token\":");
    body.push_str(&Value::from(page.next).to_string());
    body.push('}');
    Ok(json_text(StatusCode::OK, body))
}

/// How an update changes a document: PUT replaces it, PATCH merges a patch into it.
#[derive(Clone, Copy)]
enum Update {
    Replace,
    MergePatch,
}

async fn update(
    State(app): State<App>,
    collection: Collection,
    how: Update,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let expect = required_version(&headers)?;
    let accepted: &[&str] = match how {
        Update::Replace => &["application/json"],
        Update::MergePatch => &["application/merge-patch+json", "application/json"],
    };
    let body = read_body(&headers, body, app.body_limit, accepted).await?;
    let store = app.store.clone();
    let stored = app
        .blocking
        .run(move || match how {
            Update::Replace => store.replace(collection, &key, &body, expect),
            Update::MergePatch => store.patch(collection, &key, &body, expect),
        })
        .await?
        .map_err(problem)?;
    Ok(represent(StatusCode::OK, &stored))
}

async fn delete(State(app): State<App>, collection: Collection, Path(key): Path<String>, headers: HeaderMap) -> Answer {
    let expect = if headers.contains_key(header::IF_MATCH) { required_version(&headers)? } else { Expect::Any };
    let store = app.store.clone();
    app.blocking.run(move || store.delete(collection, &key, expect)).await?.map_err(problem)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `"3"` for version 3.
fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// The version an `If-Match` names (`"3"`, `W/"3"`, or `*` for any); 428 without one, 412 for
/// one this service did not write.
fn required_version(headers: &HeaderMap) -> Result<Expect, Problem> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Err(Problem::new(
            StatusCode::PRECONDITION_REQUIRED,
            "an update needs If-Match with the ETag of the version it changes: GET the document, then send its ETag",
        ));
    };
    let text = value.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(Expect::Any);
    }
    text.trim_start_matches("W/").trim_matches('"').parse::<i64>().map(Expect::Version).map_err(|_| {
        Problem::new(
            StatusCode::PRECONDITION_FAILED,
            "If-Match is not an ETag this service wrote (they look like \"3\"): GET the document for its current one",
        )
    })
}

fn list_query(collection: Collection, raw: &str) -> Result<ListQuery, Problem> {
    let mut query = ListQuery { limit: DEFAULT_PAGE, ..ListQuery::default() };
    let bad = |detail: String| Problem::new(StatusCode::BAD_REQUEST, detail);
    let pairs: Vec<(String, String)> = serde_urlencoded_pairs(raw).map_err(bad)?;
    for (name, value) in pairs {
        match name.as_str() {
            "limit" => {
                query.limit =
                    value.parse().ok().filter(|n| (1..=MAX_PAGE).contains(n)).ok_or_else(|| {
                        bad(format!("limit must be a whole number from 1 to {MAX_PAGE}, not {value:?}"))
                    })?;
            }
            "page_token" => query.page_token = Some(value),
            "created_after" => query.created_after = Some(parse_time(&name, &value)?),
            "created_before" => query.created_before = Some(parse_time(&name, &value)?),
            other => match collection.filters().iter().find(|f| **f == other) {
                Some(field) => query.filters.push((field, value)),
                None => {
                    let mut known: Vec<&str> = collection.filters().to_vec();
                    known.extend(["created_after", "created_before", "limit", "page_token"]);
                    return Err(bad(format!(
                        "{} lists cannot be filtered by {other:?}; use {}",
                        collection.noun(),
                        known.join(", ")
                    )));
                }
            },
        }
    }
    Ok(query)
}

/// `name=value&...`, percent-decoded (`+` is a space).
fn serde_urlencoded_pairs(raw: &str) -> Result<Vec<(String, String)>, String> {
    let decode = |part: &str| -> Result<String, String> {
        let bytes = part.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = part.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
                    out.push(hex.ok_or_else(|| format!("the query has a bad percent escape near {part:?}"))?);
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).map_err(|_| format!("the query parameter {part:?} is not UTF-8"))
    };
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
}

fn parse_time(name: &str, value: &str) -> Result<DateTime<Utc>, Problem> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            NaiveDate::parse_from_str(value, "%Y-%m-%d").map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
        })
        .map_err(|_| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                format!("{name} must be a date (2025-12-21) or an RFC 3339 time (2025-12-21T06:20:48Z), not {value:?}"),
            )
        })
}

fn percent_encode(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn json_text(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn represent(status: StatusCode, stored: &Stored) -> Response {
    let mut response = json_text(status, stored.json.clone());
    let headers = response.headers_mut();
    headers.insert(header::ETAG, HeaderValue::from_str(&etag(stored.version)).expect("an ETag is ASCII"));
    if let Ok(modified) = HeaderValue::from_str(&stored.updated_at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()) {
        headers.insert(header::LAST_MODIFIED, modified);
    }
    response
}

/// The validator's findings as problem members: where (line, column, path), which rule, what
/// to do.
fn findings(report: &Report) -> Value {
    Value::from(
        report
            .findings
            .iter()
            .map(|f| {
                json!({
                    "rule": f.rule.code(),
                    "severity": f.severity,
                    "line": f.line,
                    "column": f.column,
                    "path": f.column_name,
                    "message": f.message,
                })
            })
            .collect::<Vec<_>>(),
    )
}

/// The store's error as the answer a client gets; server-side failures are logged and named
/// only in general terms.
fn problem(error: Error) -> Problem {
    match &error {
        Error::Malformed(report) => Problem::new(
            StatusCode::BAD_REQUEST,
            "the body is not a JSON document; the findings say where, fix it and send it again",
        )
        .with("findings", findings(report)),
        Error::Invalid(report) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "the document is not a valid {}: {} error(s); each finding names its line, column, field and what to do",
                report.kind.replace('_', " "),
                report.errors
            ),
        )
        .with("findings", findings(report)),
        Error::NotFound { .. } => Problem::new(StatusCode::NOT_FOUND, error.to_string()),
        Error::Exists { .. } => Problem::new(StatusCode::CONFLICT, error.to_string()),
        Error::Stale { current, .. } => {
            Problem::new(StatusCode::PRECONDITION_FAILED, error.to_string()).with("current_etag", Value::from(etag(*current)))
        }
        Error::BadPageToken => Problem::new(StatusCode::BAD_REQUEST, error.to_string()),
        Error::Query { source, .. } if is_time_limit(source) => {
            tracing::warn!(%error, "a statement passed the request's time limit and was stopped");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database was busy past this request's time limit; nothing was changed, try again shortly",
            )
        }
        Error::Query { source, .. } if migration_core::is_lost_connection(source) => {
            tracing::error!(%error, "the database connection was lost");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database connection was lost (the server restarted, or the network failed); a write under way was undone as a whole: try again shortly",
            )
        }
        Error::Database(migration_core::Error::Pool { .. }) | Error::Database(migration_core::Error::Connect { .. }) => {
            tracing::error!(%error, "the database is out of reach");
            Problem::new(StatusCode::SERVICE_UNAVAILABLE, "the database is out of reach; try again shortly")
        }
        _ => {
            tracing::error!(%error, "a request failed");
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "the request failed inside the service; it has been logged")
        }
    }
}

/// Whether a statement was stopped by the services' time limit: PostgreSQL's
/// `statement_timeout` cancelled it, or SQLite's writer waited out its `busy_timeout`.
fn is_time_limit(error: &diesel::result::Error) -> bool {
    let diesel::result::Error::DatabaseError(_, information) = error else { return false };
    let message = information.message();
    message.contains("statement timeout") || message.contains("database is locked")
}

/// The command line of both services.
#[derive(Debug, clap::Parser)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    service: ServiceArgs,
    /// A file of secret keys (`id:base64`, one per line, the first one active); instead of
    /// INTAKE_SECRET_KEY. Only the connector service stores secrets.
    #[arg(long, env = "INTAKE_SECRET_KEY_FILE")]
    secret_key_file: Option<PathBuf>,
}

/// The keys a service or command was given: `INTAKE_SECRET_KEY`, else the key file.
pub fn keys_from(file: Option<&std::path::Path>) -> Result<Keyring, String> {
    let text = match (std::env::var("INTAKE_SECRET_KEY"), file) {
        (Ok(text), _) if !text.trim().is_empty() => SecretString::from(text),
        (_, Some(path)) => std::fs::read_to_string(path)
            .map(SecretString::from)
            .map_err(|e| format!("cannot read the key file {}: {e}", path.display()))?,
        _ => SecretString::from(String::new()),
    };
    Keyring::parse(&text).map_err(|e| e.to_string())
}

/// Starts `service`: reads its command line and keys, opens and migrates its database, and
/// serves until SIGINT or SIGTERM. Exit code 2 for a start-up problem, with what to do.
pub fn main(service: Service) -> ExitCode {
    let about = match service {
        Service::Connector => {
            "Seed 002's Connector Service: connector profiles at /connector/profiles, secrets encrypted at rest and never shown.\n\nNeeds a secret key: INTAKE_SECRET_KEY=id:base64 (or --secret-key-file); `intake storage generate-key` makes one."
        }
        Service::DemoConfig => {
            "Seed 002's Demo Config Service: client configurations at /demo/clients, service proposals at /demo/proposals."
        }
    };
    let command = <Cli as clap::CommandFactory>::command()
        .name(service.name())
        .about(about)
        .after_help(format!("Listens on 127.0.0.1:{} unless --listen says otherwise; applies its migrations at start-up unless --no-migrate.", service.default_port()));
    let matches = command.get_matches();
    let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    service_kit::init_tracing();
    match start(service, cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn start(service: Service, cli: Cli) -> Result<(), String> {
    let args = cli.service;
    let address = args.address(service.default_port());
    let keys = if service.needs_keys() {
        Some(keys_from(cli.secret_key_file.as_deref()).map_err(|e| format!("{}: {e}", service.name()))?)
    } else {
        None
    };
    // Migrations run without a time limit, on a connection of their own.
    let db = Database::connect(&args.database_url).map_err(|e| e.to_string())?;
    let migrator = Migrator::new([&crate::MIGRATIONS]).map_err(|e| e.to_string())?;
    let applied = migrator.prepare(&db, !args.no_migrate).map_err(|e| e.to_string())?;
    if !applied.is_empty() {
        tracing::info!(count = applied.len(), "applied the persistent_storage migrations");
    }
    drop(db);
    // Requests' statements are limited to the request's own time: when a request is answered
    // 503, its statement is cancelled (PostgreSQL) or stops waiting for the write lock
    // (SQLite) instead of finishing after the client was told it failed.
    // A tenth less than the request's own limit, so the statement has ended (and the answer
    // says so) by the time the request would be cut off.
    let limit = std::time::Duration::from_millis(args.request_timeout * 900);
    let db = Database::connect_limited(&args.database_url, limit).map_err(|e| e.to_string())?;
    let router = router(Store::new(db, keys), service.collections(), args.body_limit_or(DOCUMENT_BODY_LIMIT));
    // At most the database pool's size of blocking work runs at once (`Blocking`); the cap
    // only bounds threads kept for work that finishes after its request timed out.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(32)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(service_kit::serve(router, address, &args, service.name())).map_err(|e| format!("{address}: {e}"))
}
