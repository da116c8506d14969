//! The routes: an upload is streamed from the request body into the import layer on a
//! blocking thread (diesel is blocking), chunk by chunk, so a 50 MB file never sits whole in
//! memory; its answer carries the validator's report as the browser's validator writes it,
//! byte for byte.

use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use execution_dedup::{Executions, Session};
use http_body_util::BodyExt as _;
use import_core::{ImportOptions, ImportReport, Outcome};
use migration_core::Database;
use serde_json::{Value, json};
use service_kit::{Blocking, Problem};
use tokio::sync::mpsc;
use upload::{Upload, UploadOptions};

/// Body chunks read ahead of the import: the memory an upload holds beyond the import's own.
const CHUNKS_IN_FLIGHT: usize = 8;

/// The media types an upload may be sent as (browsers label CSV files in several ways, or not
/// at all).
const ACCEPTED: [&str; 4] = ["text/csv", "text/plain", "application/octet-stream", "application/vnd.ms-excel"];

#[derive(Clone)]
struct App {
    db: Database,
    blocking: Blocking,
    body_limit: u64,
    /// How long an import may take: it stops itself, writing nothing, past it.
    import_limit: Duration,
}

/// The service's routes; with `page`, the upload page at `/` too.
pub fn router(db: Database, body_limit: u64, import_limit: Duration, page: Option<&Path>) -> Router {
    let blocking = Blocking::new(db.pool_size() as usize);
    let app = App { db, blocking, body_limit, import_limit };
    let router = Router::new()
        .route("/health", get(|| async { axum::Json(json!({"status": "ok"})) }))
        .route("/uploads/{kind}", post(upload))
        .route("/uploads/{kind}/context", get(context))
        .with_state(app);
    match page {
        Some(page) => router
            .route("/", get(|| async { axum::response::Redirect::to("/www/index.html") }))
            .nest_service("/www", tower_http::services::ServeDir::new(page.join("www")))
            .nest_service("/pkg", tower_http::services::ServeDir::new(page.join("pkg")))
            .fallback(service_kit::not_found),
        None => router.fallback(service_kit::not_found),
    }
}

/// What is uploaded: one of the upload crate's kinds, or a NinjaTrader export.
#[derive(Debug, Clone)]
enum Target {
    Upload(Upload),
    Executions,
}

/// The query parameters of both routes.
#[derive(Debug, Default)]
struct Query {
    workflow_id: Option<String>,
    week_number: Option<u32>,
    replace: bool,
    name: Option<String>,
}

fn bad_request(detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, detail)
}

impl Query {
    fn parse(raw: Option<&str>) -> Result<Query, Problem> {
        let mut query = Query::default();
        for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            match key.as_ref() {
                "workflow_id" => query.workflow_id = Some(value.into_owned()),
                "week_number" => {
                    query.week_number = Some(value.parse().ok().filter(|&n: &u32| n >= 1).ok_or_else(|| {
                        bad_request(format!("week_number={value} is not a week: give a whole number from 1"))
                    })?);
                }
                "replace" => {
                    query.replace = match value.as_ref() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(bad_request(format!("replace={value}: give true or false"))),
                    };
                }
                "name" => query.name = Some(value.into_owned()),
                other => {
                    return Err(bad_request(format!(
                        "unknown query parameter `{other}`; this route takes workflow_id, week_number, replace and name"
                    )));
                }
            }
        }
        Ok(query)
    }

    /// What `kind` with these parameters uploads.
    fn target(&self, kind: &str) -> Result<Target, Problem> {
        let weekly = kind == "weekly_actuals";
        if !weekly && (self.workflow_id.is_some() || self.week_number.is_some()) {
            return Err(bad_request(format!(
                "{kind} takes no workflow_id or week_number; only weekly_actuals belongs to a workflow week"
            )));
        }
        Ok(match kind {
            "store_attributes" => Target::Upload(Upload::StoreAttributes),
            "historical_sales" => Target::Upload(Upload::HistoricalSales),
            "ninjatrader_executions" => Target::Executions,
            "weekly_actuals" => match (&self.workflow_id, self.week_number) {
                (Some(workflow_id), Some(week_number)) => {
                    Target::Upload(Upload::WeeklyActuals { workflow_id: workflow_id.clone(), week_number })
                }
                _ => {
                    return Err(bad_request(
                        "weekly_actuals needs the workflow week: add ?workflow_id=...&week_number=... (weeks count from 1)",
                    ));
                }
            },
            other => {
                return Err(Problem::new(
                    StatusCode::NOT_FOUND,
                    format!(
                        "there is no upload kind `{other}`; the kinds are store_attributes, historical_sales, weekly_actuals and ninjatrader_executions"
                    ),
                ));
            }
        })
    }
}

/// `GET /uploads/{kind}/context`: what the page checks the kind's file against.
async fn context(State(app): State<App>, UrlPath(kind): UrlPath<String>, RawQuery(raw): RawQuery) -> Response {
    let query = match Query::parse(raw.as_deref()) {
        Ok(query) => query,
        Err(problem) => return problem.into_response(),
    };
    let target = match query.target(&kind) {
        Ok(target) => target,
        Err(problem) => return problem.into_response(),
    };
    let db = app.db.clone();
    let answer = app
        .blocking
        .run(move || match target {
            Target::Upload(upload) => upload.context(&db).map_err(|e| upload_problem(&e)),
            Target::Executions => Ok("{}".to_owned()),
        })
        .await;
    match answer {
        Ok(Ok(text)) => json_response(StatusCode::OK, "application/json", text),
        Ok(Err(problem)) | Err(problem) => problem.into_response(),
    }
}

/// `POST /uploads/{kind}`: the body is the file.
async fn upload(
    State(app): State<App>,
    UrlPath(kind): UrlPath<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match receive(app, &kind, raw.as_deref(), &headers, body).await {
        Ok(response) | Err(response) => response,
    }
}

async fn receive(
    app: App,
    kind: &str,
    raw: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Response> {
    let query = Query::parse(raw).map_err(IntoResponse::into_response)?;
    let target = query.target(kind).map_err(IntoResponse::into_response)?;
    check_media_type(headers).map_err(IntoResponse::into_response)?;
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > app.body_limit) {
        return Err(too_large(app.body_limit).into_response());
    }
    let name = query.name.clone().unwrap_or_else(|| format!("{kind}.csv"));
    let (sender, receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
    tokio::spawn(pump(body, sender));
    let options = UploadOptions {
        replace: query.replace,
        // The body reader below holds the limit for every kind: not counted twice.
        max_bytes: u64::MAX,
        import: ImportOptions { skip_invalid: false, deadline: Some(Instant::now() + app.import_limit) },
    };
    let db = app.db.clone();
    let file = name.clone();
    // The limit holds for every kind, however the body is sent (chunked bodies declare no
    // length).
    let exceeded = Arc::new(AtomicBool::new(false));
    let too_slow = Arc::new(AtomicBool::new(false));
    let mut stream = BodyReader {
        chunks: receiver,
        current: Bytes::new(),
        left: app.body_limit,
        exceeded: exceeded.clone(),
        deadline: Instant::now() + app.import_limit,
        too_slow: too_slow.clone(),
        runtime: tokio::runtime::Handle::current(),
    };
    let outcome =
        app.blocking
            .run(move || match target {
                Target::Upload(upload) => upload::upload_stream(&db, &upload, &file, &mut stream, options, &mut |_| {})
                    .map_err(Failure::Upload),
                Target::Executions => Session::open(&db, Executions)
                    .and_then(|session| session.import_stream(&file, &mut stream, options.import, &mut |_| {}))
                    .map_err(Failure::Import),
            })
            .await
            .map_err(IntoResponse::into_response)?;
    if exceeded.load(Ordering::Relaxed) {
        return Err(too_large(app.body_limit).with("file", Value::String(name)).into_response());
    }
    if too_slow.load(Ordering::Relaxed) {
        tracing::info!(kind, status = 408, "upload not written: the body came too slowly");
        return Err(service_kit::body_too_slow(app.import_limit).with("file", Value::String(name)).into_response());
    }
    match outcome {
        Ok(report) => {
            tracing::info!(kind, outcome = ?report.outcome, rows = report.counts.rows_read, "upload");
            Ok(answer(kind, &report))
        }
        Err(failure) => {
            let problem = match &failure {
                Failure::Upload(error) => upload_problem(error),
                Failure::Import(error) => import_problem(error),
            };
            tracing::info!(kind, status = problem.status.as_u16(), "upload not written");
            Err(problem.with("file", Value::String(name)).into_response())
        }
    }
}

fn check_media_type(headers: &HeaderMap) -> Result<(), Problem> {
    // A file sent without a type is taken: browsers leave it out for unknown extensions.
    let Some(media_type) = service_kit::media_type(headers) else { return Ok(()) };
    if ACCEPTED.contains(&media_type.as_str()) {
        return Ok(());
    }
    Err(Problem::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!("the body's Content-Type is `{media_type}`; send the file as {}", ACCEPTED.join(", ")),
    ))
}

fn too_large(limit: u64) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the file is larger than this service's limit of {limit} bytes; nothing was written: split it, or start the service with a larger --body-limit"),
    )
    .with("limit_bytes", Value::from(limit))
}

/// Why an upload wrote nothing.
enum Failure {
    Upload(upload::Error),
    Import(import_core::Error),
}

fn upload_problem(error: &upload::Error) -> Problem {
    match error {
        upload::Error::UnknownWorkflow(_) => Problem::new(StatusCode::NOT_FOUND, error.to_string()),
        upload::Error::BadWeek { .. } => bad_request(error.to_string()),
        upload::Error::NoStores | upload::Error::NoCategories => Problem::new(StatusCode::CONFLICT, error.to_string()),
        upload::Error::TooLarge { limit, .. } => too_large(*limit),
        upload::Error::Import(error) => import_problem(error),
        upload::Error::Database(error) => database_problem(&error.to_string(), out_of_reach(error)),
        _ => internal(error),
    }
}

fn import_problem(error: &import_core::Error) -> Problem {
    use import_core::Error;
    match error {
        Error::Conflict { rule, .. } => {
            Problem::new(StatusCode::CONFLICT, error.to_string()).with("rule", Value::String((*rule).to_owned()))
        }
        Error::Read { .. } => {
            bad_request(format!("the body could not be read whole ({error}); nothing was written: send the file again"))
        }
        Error::TimedOut { .. } | Error::Locked { .. } => {
            Problem::new(StatusCode::SERVICE_UNAVAILABLE, error.to_string())
        }
        Error::Database(inner) => database_problem(&error.to_string(), out_of_reach(inner)),
        Error::Query { source, .. } if migration_core::is_lost_connection(source) => {
            database_problem(&error.to_string(), true)
        }
        _ => internal(error),
    }
}

/// Whether the database could not be reached (a pool without connections, a refused one).
fn out_of_reach(error: &migration_core::Error) -> bool {
    matches!(error, migration_core::Error::Pool { .. } | migration_core::Error::Connect { .. })
}

fn database_problem(detail: &str, lost: bool) -> Problem {
    if lost {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the database cannot be reached ({detail}); nothing was written: try again shortly"),
        )
    } else {
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{detail}; nothing was written"))
    }
}

fn internal(error: &dyn std::error::Error) -> Problem {
    tracing::error!(%error, "an upload failed");
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{error}; nothing was written"))
}

/// 200 with what was stored, or 422 with the findings: either way the validator's report as
/// its own JSON text, the bytes the browser's validator produced for the same file.
fn answer(kind: &str, report: &ImportReport) -> Response {
    let counts = serde_json::to_value(&report.counts).expect("counts serialize");
    let (status, head) = match report.outcome {
        Outcome::Refused => {
            let errors = report.counts.rejected;
            let problem = Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "{} has {errors} rows with errors (see report.findings: line, column, rule, message); nothing was written: fix them and upload the file again",
                    report.file
                ),
            )
            .with("file", Value::String(report.file.clone()))
            .with("counts", counts);
            (problem.status, problem.body())
        }
        Outcome::Imported | Outcome::Unchanged => (
            StatusCode::OK,
            json!({
                "file": report.file,
                "kind": kind,
                "outcome": report.outcome,
                "counts": counts,
                "timings": report.timings,
            }),
        ),
    };
    let mut text = head.to_string();
    if let Some(validation) = &report.validation {
        text.pop();
        text.push_str(",\"report\":");
        text.push_str(&validation.to_json());
        text.push('}');
    }
    let media_type = if status.is_success() { "application/json" } else { "application/problem+json" };
    json_response(status, media_type, text)
}

fn json_response(status: StatusCode, media_type: &'static str, text: String) -> Response {
    let mut response = (status, text).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    response
}

/// Moves the request body's chunks to the import, a few at a time; a body cut off reaches
/// the import as a read error.
async fn pump(mut body: Body, chunks: mpsc::Sender<io::Result<Bytes>>) {
    loop {
        // Once the import stops reading (it finished, failed or gave up on a slow client),
        // the body is dropped at once, so the connection is not held for the client's rest.
        let frame = tokio::select! {
            frame = body.frame() => frame,
            () = chunks.closed() => return,
        };
        let Some(frame) = frame else { return };
        let chunk = match frame {
            Ok(frame) => match frame.into_data() {
                Ok(data) => Ok(data),
                Err(_) => continue,
            },
            Err(error) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("the body was cut off: {error}"))),
        };
        let failed = chunk.is_err();
        // The import stopped reading (it failed or finished): nothing more to move.
        if chunks.send(chunk).await.is_err() || failed {
            return;
        }
    }
}

/// The request body as the blocking reader the import layer reads, failing once more than
/// `left` bytes came (and saying so in `exceeded`).
/// It waits for the client's bytes until the import's deadline at most, then fails (saying
/// so in `too_slow`): a client sending too slowly is answered 408, not held until the
/// service gives up.
struct BodyReader {
    chunks: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
    left: u64,
    exceeded: Arc<AtomicBool>,
    deadline: Instant,
    too_slow: Arc<AtomicBool>,
    runtime: tokio::runtime::Handle,
}

impl Read for BodyReader {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            let deadline = tokio::time::Instant::from_std(self.deadline);
            match self.runtime.block_on(tokio::time::timeout_at(deadline, self.chunks.recv())) {
                Ok(Some(chunk)) => self.current = chunk?,
                Ok(None) => return Ok(0),
                Err(_) => {
                    self.too_slow.store(true, Ordering::Relaxed);
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the body had not all arrived by the deadline",
                    ));
                }
            }
            match self.left.checked_sub(self.current.len() as u64) {
                Some(left) => self.left = left,
                None => {
                    self.exceeded.store(true, Ordering::Relaxed);
                    return Err(io::Error::new(io::ErrorKind::FileTooLarge, "the body is larger than the limit"));
                }
            }
        }
        let n = buffer.len().min(self.current.len());
        buffer[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}
