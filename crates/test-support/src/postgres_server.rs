//! Finding (or starting) the PostgreSQL server that test databases live on.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};

/// Where test databases are created unless `TEST_DATABASE_URL` says otherwise.
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Port of the throwaway cluster started when no server answers.
const THROWAWAY_PORT: u16 = 54329;

/// The maintenance database URL, found once per process; panics with instructions if there is
/// no server and none can be started.
pub fn admin_url() -> &'static str {
    static URL: OnceLock<Result<String, String>> = OnceLock::new();
    let url = URL.get_or_init(|| {
        let url = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.to_owned());
        let url = match answers(&url) {
            Ok(()) => url,
            Err(first_error) => start_throwaway_cluster().map_err(|start_error| {
                format!(
                    "PostgreSQL tests need a server and none is available.\n  \
                     {url}: {first_error}\n  throwaway cluster: {start_error}\n\
                     Provide one: start PostgreSQL (`pg_ctlcluster 15 main start`), set TEST_DATABASE_URL=postgres://user@host:port/db, \
                     or put initdb and pg_ctl on PATH so the tests can start their own."
                )
            })?,
        };
        sweep_leftovers(&url);
        Ok(url)
    });
    match url {
        Ok(url) => url,
        Err(message) => panic!("{message}"),
    }
}

fn answers(url: &str) -> Result<(), String> {
    let url = if url.contains("connect_timeout") {
        url.to_owned()
    } else {
        format!("{url}{}connect_timeout=3", if url.contains('?') { '&' } else { '?' })
    };
    PgConnection::establish(&url).map(drop).map_err(|error| error.to_string().trim().to_owned())
}

/// Drops `intake_test_<pid>_<n>` databases whose process is gone (kept by failed tests).
fn sweep_leftovers(admin_url: &str) {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        datname: String,
    }
    let mut conn = super::admin_connection(admin_url);
    let Ok(names) = diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE 'intake\\_test\\_%'")
        .load::<Name>(&mut conn)
    else {
        return;
    };
    for Name { datname } in names {
        let pid = datname.strip_prefix("intake_test_").and_then(|rest| rest.split('_').next());
        let alive = pid.is_some_and(|pid| Path::new("/proc").join(pid).exists());
        if !alive {
            let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {datname} WITH (FORCE)"));
        }
    }
}

/// Starts (or reuses) a cluster in `$TMPDIR/intake-test-postgres-<uid>` on a fixed port, shared
/// by every test process of this user; it keeps running after the tests for the next run.
fn start_throwaway_cluster() -> Result<String, String> {
    let url = format!("postgres://postgres@127.0.0.1:{THROWAWAY_PORT}/postgres");
    if answers(&url).is_ok() {
        return Ok(url);
    }
    for tool in ["initdb", "pg_ctl"] {
        if !on_path(tool) {
            return Err(format!("`{tool}` is not on PATH"));
        }
    }
    let root = std::env::temp_dir().join(format!("intake-test-postgres-{}", current_uid()));
    std::fs::create_dir_all(&root).map_err(|e| format!("create {}: {e}", root.display()))?;
    let _lock = DirLock::acquire(&root.join("lock"))?;
    if answers(&url).is_ok() {
        return Ok(url); // another test process started it while we waited
    }
    let data = root.join("data");
    let as_root = current_uid() == "0";
    if as_root {
        // PostgreSQL refuses to run as root: the cluster belongs to the `postgres` user.
        run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&root))?;
    }
    if !data.join("PG_VERSION").exists() {
        run(postgres_command(as_root, "initdb")
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "-D"])
            .arg(&data))?;
    }
    let options = format!("-p {THROWAWAY_PORT} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", root.display());
    run(postgres_command(as_root, "pg_ctl")
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(root.join("server.log"))
        .args(["-o", &options, "-w", "start"]))?;
    answers(&url).map(|()| url)
}

fn postgres_command(as_root: bool, tool: &str) -> Command {
    if as_root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--", tool]);
        command
    } else {
        Command::new(tool)
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed: {}", String::from_utf8_lossy(&output.stderr).trim()))
    }
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

fn current_uid() -> String {
    Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

/// A lock between processes: a directory that exists while it is held.
struct DirLock(PathBuf);

impl DirLock {
    fn acquire(path: &Path) -> Result<Self, String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match std::fs::create_dir(path) {
                Ok(()) => return Ok(DirLock(path.to_path_buf())),
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
                Err(e) => {
                    return Err(format!("{} still held after 60 s ({e}); remove it if no test runs", path.display()));
                }
            }
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}
