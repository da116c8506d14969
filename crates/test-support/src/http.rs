//! Real HTTP against real service binaries: [`ServiceProcess`] starts one on a free port
//! (reading the address it prints) with its log captured, and [`request`] is a plain HTTP/1.1
//! client over a TCP socket, so a test can also send what no well-behaved client would.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A response: status, headers (names lowercase) and body.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers, in order, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy).
    pub body: String,
}

impl Response {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// Everything received, for assertion messages and leak checks.
    pub fn text(&self) -> String {
        let headers: Vec<String> = self.headers.iter().map(|(n, v)| format!("{n}: {v}")).collect();
        format!("{}\n{}\n\n{}", self.status, headers.join("\n"), self.body)
    }
}

/// Sends one request (`Connection: close`) and reads the whole response. `headers` are sent as
/// given; a body gets its `Content-Length`.
pub fn request(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    let mut stream = TcpStream::connect(address).unwrap_or_else(|e| panic!("connect {address}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    if let Some(body) = body {
        // The service may answer (413) and close before reading it all.
        let _ = stream.write_all(body);
    }
    read_response(stream)
}

/// Reads a response from a stream until the server closes it.
pub fn read_response(stream: TcpStream) -> Response {
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let status =
        status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{status_line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let mut raw = Vec::new();
    let _ = reader.read_to_end(&mut raw);
    let chunked = headers.iter().any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked { dechunk(&raw) } else { raw };
    Response { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&raw[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = end + 2;
        out.extend_from_slice(&raw[start..(start + size).min(raw.len())]);
        raw = &raw[(start + size + 2).min(raw.len())..];
    }
    out
}

/// Runs a shell command line (a `curl` request as documentation writes it, made silent) and
/// reads its output as JSON; panics with the command's error otherwise.
pub fn curl_json(script: &str) -> serde_json::Value {
    let output = Command::new("sh").arg("-c").arg(format!("{script} --silent --show-error")).output().unwrap();
    assert!(output.status.success(), "{script}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{script}: {e}: {}", String::from_utf8_lossy(&output.stdout)))
}

/// A running service binary, killed on drop.
pub struct ServiceProcess {
    child: Child,
    /// Where it listens.
    pub address: SocketAddr,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl ServiceProcess {
    /// Starts `binary` with `args` and `env` (its log, stderr, to a file), and waits for the
    /// line saying where it listens. Panics with its log if it exits or says nothing for 30 s.
    pub fn start(binary: &Path, args: &[&str], env: &[(&str, &str)]) -> ServiceProcess {
        let log_dir = tempfile::tempdir().unwrap();
        let log = log_dir.path().join("service.log");
        let mut command = Command::new(binary);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .env_remove("INTAKE_SECRET_KEY")
            .env_remove("INTAKE_SECRET_KEY_FILE")
            .env_remove("DATABASE_URL")
            .env_remove("INTAKE_LISTEN");
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = sender.send(line);
            }
            // Keep reading so the service never blocks on a full pipe.
            for _ in lines {}
        });
        let started = Instant::now();
        let line = loop {
            if let Ok(line) = receiver.recv_timeout(Duration::from_millis(50)) {
                break line;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{} exited ({status}): {}", binary.display(), std::fs::read_to_string(&log).unwrap_or_default());
            }
            assert!(started.elapsed() < Duration::from_secs(30), "{} said nothing for 30 s", binary.display());
        };
        let address = line
            .rsplit("http://")
            .next()
            .and_then(|a| a.trim().parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        ServiceProcess { child, address, log, _log_dir: log_dir }
    }

    /// Runs `binary` to its end (a start-up that must fail); its exit code and stderr.
    pub fn run_to_end(binary: &Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
        let mut command = Command::new(binary);
        command.args(args).stdin(Stdio::null()).env_remove("INTAKE_SECRET_KEY").env_remove("INTAKE_SECRET_KEY_FILE");
        for (name, value) in env {
            command.env(name, value);
        }
        let output = command.output().unwrap();
        (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
    }

    /// Sends a request to it.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Response {
        request(self.address, method, path, headers, body)
    }

    /// `request` with a JSON body.
    pub fn send_json(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &serde_json::Value) -> Response {
        let mut all = vec![("Content-Type", "application/json")];
        all.extend_from_slice(headers);
        self.request(method, path, &all, Some(body.to_string().as_bytes()))
    }

    /// Its process id (to sample its memory).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills it with SIGKILL (no shutdown of its own) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Asks it to stop (SIGTERM) and waits for it; its exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        self.child.wait().ok().and_then(|s| s.code())
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
