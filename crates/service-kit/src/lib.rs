//! What every intake HTTP service shares, so each service crate holds only its routes: the
//! command line ([`ServiceArgs`]: address, database, limits), logging ([`init_tracing`]),
//! errors as RFC 9457 problem+json bodies ([`Problem`]), reading a request body within a
//! size limit and of an accepted media type ([`read_body`]), running blocking work (diesel)
//! off the async runtime, a fair number at a time ([`Blocking`]), and serving with a request timeout, request tracing
//! that never logs a body, and graceful shutdown on SIGINT or SIGTERM ([`serve`]).
//!
//! It knows no domain and no database; the services link it beside the domain crates they
//! serve.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! # async fn run() -> std::io::Result<()> {
//! let args = service_kit::ServiceArgs::default();
//! let router = Router::new().route("/health", get(|| async { "ok" }));
//! service_kit::serve(router, args.address(8080), &args, "demo").await
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Router, http};
use serde_json::{Map, Value};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

/// The command line every service takes (each adds a default port and database).
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceArgs {
    /// Address to listen on [default: 127.0.0.1 and the service's port; port 0 picks a free
    /// one, which the service prints].
    #[arg(long, env = "INTAKE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Database: postgres://user@host/db, or an SQLite file (sqlite://path/to/file.db).
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/intake.db", hide_env_values = true)]
    pub database_url: String,
    /// Largest request body accepted, in bytes (larger ones get 413) [default: the service's:
    /// 1 MiB for documents, 50 MB for uploads].
    #[arg(long, value_name = "BYTES")]
    pub body_limit: Option<usize>,
    /// Seconds a request may take before it is answered 503.
    #[arg(long, default_value_t = 30)]
    pub request_timeout: u64,
    /// Refuse to start when the database lacks this service's migrations, instead of applying
    /// them.
    #[arg(long)]
    pub no_migrate: bool,
}

impl Default for ServiceArgs {
    fn default() -> Self {
        ServiceArgs {
            listen: None,
            database_url: "sqlite://data/intake.db".into(),
            body_limit: None,
            request_timeout: 30,
            no_migrate: false,
        }
    }
}

impl ServiceArgs {
    /// The body limit: `--body-limit`, or the service's `default`.
    pub fn body_limit_or(&self, default: usize) -> usize {
        self.body_limit.unwrap_or(default)
    }

    /// The address to listen on: `--listen`, or 127.0.0.1 and `default_port`.
    pub fn address(&self, default_port: u16) -> SocketAddr {
        self.listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], default_port)))
    }
}

/// Logs to stderr, `info` by default; `RUST_LOG` chooses (e.g. `RUST_LOG=debug`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// An error answered as `application/problem+json` (RFC 9457): a status, a title, a detail
/// that says what to do, and members of the service's own (`findings`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The status.
    pub status: StatusCode,
    /// What went wrong, in a few words.
    pub title: String,
    /// What went wrong here, and what to do.
    pub detail: String,
    /// More members of the body.
    pub extensions: Map<String, Value>,
}

impl Problem {
    /// A problem with `status`; the title is the status's reason.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            detail: detail.into(),
            extensions: Map::new(),
        }
    }

    /// With a member of the service's own.
    pub fn with(mut self, name: &str, value: Value) -> Problem {
        self.extensions.insert(name.to_owned(), value);
        self
    }

    /// The body.
    pub fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("type".into(), Value::String("about:blank".into()));
        body.insert("title".into(), Value::String(self.title.clone()));
        body.insert("status".into(), Value::from(self.status.as_u16()));
        body.insert("detail".into(), Value::String(self.detail.clone()));
        body.extend(self.extensions.clone());
        Value::Object(body)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body().to_string()).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        response
    }
}

/// The request's media type: its `Content-Type` without parameters (`charset`), lowercase;
/// `None` without one.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
}

/// Reads a request body of at most `limit` bytes whose `Content-Type` is one of `accepted`
/// (parameters such as `charset` ignored): 415 for another type, 413 past the limit (told by
/// `Content-Length` before anything is read, or while reading), 400 for a body cut off.
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize, accepted: &[&str]) -> Result<Bytes, Problem> {
    let media_type = media_type(headers);
    if !media_type.as_deref().is_some_and(|t| accepted.contains(&t)) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "the body's Content-Type is {}; send it as {}",
                media_type.map_or_else(|| "missing".to_owned(), |t| format!("`{t}`")),
                accepted.join(" or ")
            ),
        ));
    }
    let too_large = || {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than this service's limit of {limit} bytes; send a smaller one"),
        )
        .with("limit_bytes", Value::from(limit))
    };
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit).await.map_err(|error| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(cause) = source {
            if cause.is::<http_body_util::LengthLimitError>() {
                return too_large();
            }
            source = cause.source();
        }
        Problem::new(StatusCode::BAD_REQUEST, format!("the body could not be read whole ({error}); send it again"))
    })
}

/// Runs blocking work (diesel calls) on tokio's blocking pool, never on the async runtime's
/// threads, at most `permits` at once: requests beyond that wait their turn in arrival order
/// (tokio's semaphore is fair), instead of as blocking threads racing for the database pool's
/// connections, which stretched the slowest requests' wait.
#[derive(Debug, Clone)]
pub struct Blocking {
    permits: Arc<tokio::sync::Semaphore>,
}

impl Blocking {
    /// At most `permits` pieces of work at once (the database pool's size).
    pub fn new(permits: usize) -> Blocking {
        Blocking { permits: Arc::new(tokio::sync::Semaphore::new(permits.max(1))) }
    }

    /// Runs `work` when its turn comes; a panic in it is a 500 that names no detail.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, Problem> {
        let failed = || {
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "the request failed inside the service; it has been logged")
        };
        let _permit = self.permits.acquire().await.map_err(|_| failed())?;
        tokio::task::spawn_blocking(work).await.map_err(|error| {
            tracing::error!(%error, "a request's work failed");
            failed()
        })
    }
}

/// Serves `router` on `address` until SIGINT or SIGTERM, then finishes the requests under
/// way and returns. Every request is traced (method, path, status, time; never a body or a
/// query string) and answered 503 past `args.request_timeout`. Prints the address it listens
/// on, so a caller that asked for port 0 learns the port.
pub async fn serve(router: Router, address: SocketAddr, args: &ServiceArgs, name: &str) -> std::io::Result<()> {
    let timeout = Duration::from_secs(args.request_timeout);
    let router = router
        .layer(middleware::from_fn(move |request: Request, next: Next| time_limit(request, next, timeout)))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        );
    let listener = tokio::net::TcpListener::bind(address).await?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "{name} listening");
    println!("{name} listening on http://{address}");
    axum::serve(listener, router).with_graceful_shutdown(shutdown_signal()).await?;
    tracing::info!("{name} stopped");
    Ok(())
}

/// Answers a request that is not done within `limit`: 408 when the service was waiting for
/// the client's body (sent too slowly, or stopped), 503 when the client was waiting for the
/// service (a body the service had not read yet included: an upload reads at the pace of
/// its import).
async fn time_limit(request: Request, next: Next, limit: Duration) -> Response {
    let (parts, body) = request.into_parts();
    let waiting = Arc::new(AtomicBool::new(false));
    let body = Body::new(Tracked { inner: body, waiting_for_client: waiting.clone() });
    match tokio::time::timeout(limit, next.run(Request::from_parts(parts, body))).await {
        Ok(response) => response,
        Err(_) if waiting.load(Ordering::Relaxed) => body_too_slow(limit).into_response(),
        Err(_) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the request took longer than {} s; try again later (a write that was under way finishes or is undone as a whole)",
                limit.as_secs()
            ),
        )
        .into_response(),
    }
}

/// 408: the request's body had not all arrived within `limit`.
pub fn body_too_slow(limit: Duration) -> Problem {
    Problem::new(
        StatusCode::REQUEST_TIMEOUT,
        format!(
            "the request's body had not all arrived after {:.0} s (it came too slowly, or stopped); nothing was written: send it again, at once",
            limit.as_secs_f64()
        ),
    )
}

/// A request body that notes whether its reader is waiting for the client's next bytes.
struct Tracked {
    inner: Body,
    waiting_for_client: Arc<AtomicBool>,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let poll = Pin::new(&mut self.inner).poll_frame(cx);
        self.waiting_for_client.store(poll.is_pending(), Ordering::Relaxed);
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing the requests under way");
}

/// A 404 problem for paths no route serves.
pub async fn not_found(uri: http::Uri) -> Problem {
    Problem::new(StatusCode::NOT_FOUND, format!("nothing is served at {}; see the README for the routes", uri.path()))
}
