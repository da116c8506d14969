//! Running, reverting and inspecting migrations.

use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, Utc};

use crate::bookkeeping::{AppliedRow, MigrationConnection};
use crate::domain::{Direction, Domain, MigrationFiles};
use crate::sql::split_statements;
use crate::{Database, Error, Result, dispatch};

/// The domains one binary knows, and the operations on them.
#[derive(Debug)]
pub struct Migrator<'d> {
    domains: Vec<&'d Domain>,
}

/// How far to roll back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackTarget {
    /// Revert the last N applied migrations of the domain.
    Steps(usize),
    /// Revert every migration newer than this version (which stays applied); `0` reverts all.
    To(String),
}

/// One migration applied or reverted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Step {
    /// Domain of the migration.
    pub domain: String,
    /// Version of the migration.
    pub version: String,
    /// Name of the migration.
    pub name: String,
    /// `up` or `down`.
    pub direction: &'static str,
    /// Time taken, in milliseconds.
    pub duration_ms: u64,
}

/// Where one migration stands in one database.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrationStatus {
    /// Domain of the migration.
    pub domain: String,
    /// Version of the migration.
    pub version: String,
    /// Name of the migration.
    pub name: String,
    /// Applied, pending, modified since applied, or unknown to this binary.
    pub state: State,
    /// When it was applied (UTC), if it was.
    pub applied_at: Option<NaiveDateTime>,
}

/// State of a migration in a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Applied, and its `up.sql` is unchanged since.
    Applied,
    /// Not applied yet.
    Pending,
    /// Applied, but its `up.sql` has changed since: someone edited a migration that ran.
    Modified,
    /// Applied, but this binary does not know it (the database is newer than the binary).
    Unknown,
}

impl State {
    /// A short word for tables.
    pub fn label(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Modified => "MODIFIED",
            State::Unknown => "UNKNOWN",
        }
    }
}

impl<'d> Migrator<'d> {
    /// A migrator over `domains`; fails on two domains with one name or a bad `metadata.toml`.
    pub fn new(domains: impl IntoIterator<Item = &'d Domain>) -> Result<Self> {
        let domains: Vec<&Domain> = domains.into_iter().collect();
        for (i, domain) in domains.iter().enumerate() {
            if domains[..i].iter().any(|d| d.name() == domain.name()) {
                return Err(Error::DuplicateDomain { name: domain.name().to_owned() });
            }
            domain.validate()?;
        }
        Ok(Migrator { domains })
    }

    /// The domains, in registration order.
    pub fn domains(&self) -> &[&'d Domain] {
        &self.domains
    }

    /// The domains an operation covers: all of them, or the one named.
    pub fn select(&self, domain: Option<&str>) -> Result<Vec<&'d Domain>> {
        match domain {
            None => Ok(self.domains.clone()),
            Some(name) => self
                .domains
                .iter()
                .find(|d| d.name() == name)
                .map(|d| vec![*d])
                .ok_or_else(|| Error::UnknownDomain { name: name.to_owned(), known: self.known_names() }),
        }
    }

    fn single(&self, domain: Option<&str>) -> Result<&'d Domain> {
        match (domain, self.domains.as_slice()) {
            (Some(_), _) => Ok(self.select(domain)?[0]),
            (None, [only]) => Ok(only),
            (None, _) => Err(Error::DomainRequired { known: self.known_names() }),
        }
    }

    fn known_names(&self) -> String {
        self.domains.iter().map(|d| d.name()).collect::<Vec<_>>().join(", ")
    }

    /// Applies every pending migration of the selected domains, oldest first, each in its own
    /// transaction (unless its `metadata.toml` says otherwise). Refuses to start when an
    /// applied migration was edited or is unknown to this binary.
    pub fn run(&self, db: &Database, domain: Option<&str>) -> Result<Vec<Step>> {
        let domains = self.select(domain)?;
        let mut connection = db.get()?;
        dispatch!(connection, conn => run_domains(conn, &domains))
    }

    /// Where every migration of the selected domains stands. Reads only; creates nothing.
    pub fn status(&self, db: &Database, domain: Option<&str>) -> Result<Vec<MigrationStatus>> {
        let domains = self.select(domain)?;
        let mut connection = db.get()?;
        dispatch!(connection, conn => status_of(conn, &domains))
    }

    /// Reverts migrations of one domain, newest first, each in its own transaction. `domain`
    /// may be omitted only when the migrator has a single domain.
    pub fn rollback(&self, db: &Database, domain: Option<&str>, target: &RollbackTarget) -> Result<Vec<Step>> {
        let domain = self.single(domain)?;
        let mut connection = db.get()?;
        dispatch!(connection, conn => rollback_domain(conn, domain, target))
    }

    /// Reverts the last `steps` migrations of one domain and applies them again: the check
    /// that `down.sql` really undoes `up.sql`.
    pub fn redo(&self, db: &Database, domain: Option<&str>, steps: usize) -> Result<Vec<Step>> {
        let domain = self.single(domain)?;
        let mut connection = db.get()?;
        dispatch!(connection, conn => {
            let mut done = rollback_domain(conn, domain, &RollbackTarget::Steps(steps))?;
            let reverted: Vec<String> = done.iter().rev().map(|step| step.version.clone()).collect();
            for version in reverted {
                let migration = domain.find(&version).expect("reverted migrations are known to the domain");
                done.extend(apply(conn, domain, migration, Direction::Up)?);
            }
            Ok(done)
        })
    }
}

fn run_domains<C: MigrationConnection>(conn: &mut C, domains: &[&Domain]) -> Result<Vec<Step>> {
    conn.ensure_bookkeeping()?;
    // Check every domain before applying anything, so a refusal leaves the database untouched.
    let mut plans = Vec::new();
    for domain in domains {
        let applied = conn.applied(domain.name())?;
        verify_applied(domain, &applied, C::BACKEND)?;
        let pending: Vec<_> =
            domain.migrations().iter().filter(|m| !applied.iter().any(|row| row.version == m.version)).collect();
        plans.push((*domain, pending));
    }
    let mut steps = Vec::new();
    for (domain, pending) in plans {
        for migration in pending {
            steps.extend(apply(conn, domain, migration, Direction::Up)?);
        }
    }
    Ok(steps)
}

/// Refuses a database whose applied migrations were edited since, or are unknown here.
fn verify_applied(domain: &Domain, applied: &[AppliedRow], backend: crate::Backend) -> Result<()> {
    for row in applied {
        match domain.find(&row.version) {
            None => {
                return Err(Error::UnknownAppliedMigration {
                    domain: domain.name().to_owned(),
                    version: row.version.clone(),
                    name: row.name.clone(),
                });
            }
            Some(migration) if migration.checksum(backend) != row.checksum => {
                return Err(Error::ModifiedMigration { path: migration.path(domain, backend, Direction::Up) });
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn status_of<C: MigrationConnection>(conn: &mut C, domains: &[&Domain]) -> Result<Vec<MigrationStatus>> {
    let has_bookkeeping = conn.bookkeeping_exists()?;
    let mut statuses = Vec::new();
    for domain in domains {
        let applied = if has_bookkeeping { conn.applied(domain.name())? } else { Vec::new() };
        for migration in domain.migrations() {
            let row = applied.iter().find(|row| row.version == migration.version);
            let state = match row {
                None => State::Pending,
                Some(row) if row.checksum != migration.checksum(C::BACKEND) => State::Modified,
                Some(_) => State::Applied,
            };
            statuses.push(MigrationStatus {
                domain: domain.name().to_owned(),
                version: migration.version.to_owned(),
                name: migration.name.to_owned(),
                state,
                applied_at: row.map(|row| row.applied_at),
            });
        }
        for row in applied.iter().filter(|row| domain.find(&row.version).is_none()) {
            statuses.push(MigrationStatus {
                domain: domain.name().to_owned(),
                version: row.version.clone(),
                name: row.name.clone(),
                state: State::Unknown,
                applied_at: Some(row.applied_at),
            });
        }
    }
    Ok(statuses)
}

fn rollback_domain<C: MigrationConnection>(
    conn: &mut C,
    domain: &Domain,
    target: &RollbackTarget,
) -> Result<Vec<Step>> {
    if !conn.bookkeeping_exists()? {
        return plan_rollback(domain, &[], target).map(|_| Vec::new());
    }
    let applied = conn.applied(domain.name())?;
    verify_applied(domain, &applied, C::BACKEND)?;
    let mut steps = Vec::new();
    for version in plan_rollback(domain, &applied, target)? {
        let migration = domain.find(&version).expect("verified above: every applied migration is known");
        steps.extend(apply(conn, domain, migration, Direction::Down)?);
    }
    Ok(steps)
}

/// Versions to revert, newest first; checked completely before anything is reverted.
fn plan_rollback(domain: &Domain, applied: &[AppliedRow], target: &RollbackTarget) -> Result<Vec<String>> {
    let newest_first = applied.iter().rev().map(|row| row.version.clone());
    match target {
        RollbackTarget::Steps(steps) if *steps > applied.len() => {
            Err(Error::RollbackTooFar { domain: domain.name().to_owned(), requested: *steps, applied: applied.len() })
        }
        RollbackTarget::Steps(steps) => Ok(newest_first.take(*steps).collect()),
        RollbackTarget::To(version) if version == "0" => Ok(newest_first.collect()),
        RollbackTarget::To(version) if applied.iter().any(|row| &row.version == version) => {
            Ok(newest_first.filter(|applied| applied > version).collect())
        }
        RollbackTarget::To(version) => {
            Err(Error::RollbackTargetNotApplied { domain: domain.name().to_owned(), version: version.clone() })
        }
    }
}

/// Applies or reverts one migration and updates the bookkeeping in the same transaction.
/// Returns `None` when another migrator got there first.
fn apply<C: MigrationConnection>(
    conn: &mut C,
    domain: &Domain,
    migration: &MigrationFiles,
    direction: Direction,
) -> Result<Option<Step>> {
    let in_transaction = migration.run_in_transaction(domain, C::BACKEND)?;
    let body = |conn: &mut C| -> Result<Option<Step>> {
        let already_applied = conn.applied(domain.name())?.iter().any(|row| row.version == migration.version);
        if already_applied == (direction == Direction::Up) {
            return Ok(None);
        }
        tracing::info!(
            "{} {}/{}_{}",
            if direction == Direction::Up { "applying" } else { "reverting" },
            domain.name(),
            migration.version,
            migration.name
        );
        let started = Instant::now();
        execute_script(conn, domain, migration, direction, in_transaction)?;
        let elapsed = started.elapsed();
        match direction {
            Direction::Up => conn.record(&AppliedRow {
                domain: domain.name().to_owned(),
                version: migration.version.to_owned(),
                name: migration.name.to_owned(),
                checksum: migration.checksum(C::BACKEND),
                applied_at: Utc::now().naive_utc(),
                duration_ms: millis(elapsed) as i64,
            })?,
            Direction::Down => conn.forget(domain.name(), migration.version)?,
        }
        tracing::debug!(
            domain = domain.name(),
            version = migration.version,
            name = migration.name,
            ?direction,
            ms = millis(elapsed),
            "migration done"
        );
        Ok(Some(Step {
            domain: domain.name().to_owned(),
            version: migration.version.to_owned(),
            name: migration.name.to_owned(),
            direction: if direction == Direction::Up { "up" } else { "down" },
            duration_ms: millis(elapsed),
        }))
    };
    if in_transaction { conn.exclusive_transaction(body) } else { body(conn) }
}

fn execute_script<C: MigrationConnection>(
    conn: &mut C,
    domain: &Domain,
    migration: &MigrationFiles,
    direction: Direction,
    in_transaction: bool,
) -> Result<()> {
    let script = migration.script(C::BACKEND, direction);
    for (index, statement) in split_statements(script).iter().enumerate() {
        conn.batch_execute(statement.text).map_err(|source| {
 Error::MigrationFailed(Box::new(crate::MigrationFailure {
            migration: format!("{}/{}_{}", domain.name(), migration.version, migration.name),
            file: migration.path(domain, C::BACKEND, direction),
            statement: index + 1,
            line: statement.line,
            sql: preview(statement.text),
            message: source.to_string(),
            outcome: if in_transaction {
                "it ran in a transaction, which was rolled back: the database is as it was before this migration".to_owned()
            } else if index == 0 {
                "it runs outside a transaction (metadata.toml: run_in_transaction = false); no statement of it had succeeded".to_owned()
            } else {
                format!("it runs outside a transaction (metadata.toml: run_in_transaction = false): statements 1 to {index} stay applied and must be undone or completed by hand")
            },
        }))
})?;
    }
    Ok(())
}

/// The statement on one line, shortened, for error messages.
fn preview(sql: &str) -> String {
    let flat = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(160) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
