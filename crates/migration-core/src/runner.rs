//! Running, reverting and inspecting migrations, and proving them: plan, verify, check and
//! rebless.

use std::cmp::Ordering;
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, Utc};

use crate::bookkeeping::{AppliedRow, AuditRow, MigrationConnection};
use crate::checksum::ChecksumAlgorithm;
use crate::domain::{Direction, Domain, MigrationFiles};
use crate::lint::{self, LintFinding};
use crate::lock;
use crate::scratch::Scratch;
use crate::snapshot::{Drift, Snapshot};
use crate::sql::split_statements;
use crate::{Backend, Database, DbConnection, Error, MigrationFailure, Result, dispatch};

/// The domains one binary knows, and the operations on them.
#[derive(Debug)]
pub struct Migrator<'d> {
    domains: Vec<&'d Domain>,
    policy: Policy,
}

/// What a migrator tolerates, and how long it waits for another one. Every tolerance is off
/// by default: each turns one refusal into a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Go on when the database has applied migrations this build does not have (they are
    /// left as they are and reported as unknown).
    pub allow_missing: bool,
    /// Apply a pending migration whose version is older than the newest applied one (it
    /// arrived out of order, e.g. from a branch merged late).
    pub allow_out_of_order: bool,
    /// Accept two migrations with the same version in one domain (they are told apart by
    /// name and applied in name order).
    pub allow_duplicate_versions: bool,
    /// How long to wait for another migrator before giving up.
    pub lock_timeout: Duration,
    /// Apply all pending migrations of a `run` in one transaction: all of them or none
    /// (refused when one of them opts out of transactions).
    pub single_transaction: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            allow_missing: false,
            allow_out_of_order: false,
            allow_duplicate_versions: false,
            lock_timeout: lock::DEFAULT_LOCK_TIMEOUT,
            single_transaction: false,
        }
    }
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
    /// Time its statements took, in milliseconds.
    pub duration_ms: u64,
    /// The same, in microseconds: what the core's own overhead is measured against.
    pub sql_us: u64,
    /// Reverted with the `down.sql` recorded when it was applied (its files are gone).
    pub from_record: bool,
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
    /// How long its `up.sql` took, if it was applied.
    pub duration_ms: Option<i64>,
}

/// State of a migration in a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Applied, and its `up.sql` is unchanged since.
    Applied,
    /// Not applied yet.
    Pending,
    /// Not applied, and older than the newest applied migration of its domain.
    OutOfOrder,
    /// Applied, but its `up.sql` has changed since: someone edited a migration that ran.
    Modified,
    /// Applied, but this binary does not have it (the database is newer than the binary, or
    /// its folder was renamed or deleted).
    Unknown,
}

impl State {
    /// A short word for tables.
    pub fn label(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::OutOfOrder => "OUT OF ORDER",
            State::Modified => "MODIFIED",
            State::Unknown => "MISSING",
        }
    }
}

/// What `run` would do, found without changing the database.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Plan {
    /// The pending migrations, in the order `run` applies them.
    pub migrations: Vec<PlannedMigration>,
}

/// One migration `run` would apply.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlannedMigration {
    /// Domain of the migration.
    pub domain: String,
    /// Its version.
    pub version: String,
    /// Its name.
    pub name: String,
    /// The script that would run.
    pub file: String,
    /// Whether it runs in one transaction (`false`: statement by statement).
    pub in_transaction: bool,
    /// Its exact SQL.
    pub sql: String,
    /// The lint warnings for it.
    pub lint: Vec<LintFinding>,
    /// How it failed when replayed on a scratch database (`run` would fail the same way);
    /// the migrations after it were not replayed.
    pub fails: Option<String>,
}

impl Plan {
    /// The migration `run` would fail at, if any (it failed on the scratch database).
    pub fn failing(&self) -> Option<&PlannedMigration> {
        self.migrations.iter().find(|m| m.fails.is_some())
    }
}

/// The outcome of `verify`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verification {
    /// The migrations whose `down.sql` was proven to reverse their `up.sql`, in order.
    pub verified: Vec<String>,
    /// The first migration that failed the proof, if any (the proof stops there).
    pub failure: Option<VerifyFailure>,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
}

/// Why a migration failed `verify`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifyFailure {
    /// `domain/version_name`.
    pub migration: String,
    /// The script at fault.
    pub file: String,
    /// What went wrong.
    pub problem: String,
    /// The schema differences, one line each.
    pub differences: Vec<String>,
}

/// The outcome of `check`: the live schema against the one the applied migrations produce.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckReport {
    /// Every difference; empty when the database matches its migrations.
    pub drift: Vec<Drift>,
    /// Each difference as a sentence ("index x missing", "column t.c not in migrations").
    pub drift_lines: Vec<String>,
    /// Lint warnings on the live schema.
    pub lint: Vec<LintFinding>,
    /// How many applied migrations were replayed to build the expected schema.
    pub replayed: usize,
    /// Applied migrations this build does not have, so could not replay.
    pub not_replayed: Vec<String>,
    /// Non-transactional migrations a run started and never finished (killed, or its
    /// connection lost): their statements may be part-applied, which the drift then shows;
    /// `run` finishes them.
    pub interrupted: Vec<String>,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
}

impl CheckReport {
    /// Whether the live schema is exactly what the applied migrations produce.
    pub fn is_clean(&self) -> bool {
        self.drift.is_empty() && self.not_replayed.is_empty()
    }

    /// One line for `status`.
    pub fn summary(&self) -> String {
        let mut line = match self.drift.len() {
            0 => format!("no drift: the schema is what its {} applied migration(s) produce", self.replayed),
            1 => format!("drift: 1 difference from the applied migrations ({})", self.drift_lines[0]),
            n => format!("drift: {n} differences from the applied migrations (first: {})", self.drift_lines[0]),
        };
        if !self.not_replayed.is_empty() {
            line.push_str(&format!(
                "; {} applied migration(s) not in this build were not checked",
                self.not_replayed.len()
            ));
        }
        line
    }
}

/// Orders versions numerically when both are digits (so `9` < `10`), else as text.
fn version_order(a: &str, b: &str) -> Ordering {
    let digits = |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
    if digits(a) && digits(b) {
        let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    } else {
        a.cmp(b)
    }
}

/// The order `run` applies migrations in: by version, then by name.
fn run_order(a: (&str, &str), b: (&str, &str)) -> Ordering {
    version_order(a.0, b.0).then_with(|| a.1.cmp(b.1))
}

/// A domain's migrations in run order.
fn in_run_order(domain: &Domain) -> Vec<&'static MigrationFiles> {
    let mut migrations: Vec<&MigrationFiles> = domain.migrations().iter().collect();
    migrations.sort_by(|a, b| run_order((a.version, a.name), (b.version, b.name)));
    migrations
}

/// The newest applied version, if any.
fn newest_applied(applied: &[AppliedRow]) -> Option<&str> {
    applied.iter().map(|row| row.version.as_str()).max_by(|a, b| version_order(a, b))
}

fn migration_id(domain: &Domain, version: &str, name: &str) -> String {
    format!("{}/{version}_{name}", domain.name())
}

impl<'d> Migrator<'d> {
    /// A migrator over `domains` with the default [`Policy`]; fails on two domains with one
    /// name or a bad `metadata.toml`.
    pub fn new(domains: impl IntoIterator<Item = &'d Domain>) -> Result<Self> {
        let domains: Vec<&Domain> = domains.into_iter().collect();
        for (i, domain) in domains.iter().enumerate() {
            if domains[..i].iter().any(|d| d.name() == domain.name()) {
                return Err(Error::DuplicateDomain { name: domain.name().to_owned() });
            }
            domain.validate()?;
        }
        Ok(Migrator { domains, policy: Policy::default() })
    }

    /// The same migrator with another policy.
    pub fn with_policy(self, policy: Policy) -> Self {
        Migrator { policy, ..self }
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
    /// transaction (unless its `metadata.toml` says otherwise), holding the migrator lock.
    /// Refuses to start, changing nothing, when an applied migration was edited or is missing
    /// here, when a pending one is older than the newest applied one, or when two share a
    /// version (each unless the [`Policy`] allows it).
    pub fn run(&self, db: &Database, domain: Option<&str>) -> Result<Vec<Step>> {
        let domains = self.select(domain)?;
        let mut connection = db.get()?;
        lock::with_migrator_lock(
            db,
            &mut connection,
            self.policy.lock_timeout,
            |connection| dispatch!(*connection, conn => run_domains(conn, &domains, &self.policy)),
        )
    }

    /// What a service does at start-up: applies the pending migrations of every domain
    /// (`apply`), or else checks that none is pending ([`Error::PendingMigrations`] names them).
    /// Returns the migrations applied.
    pub fn prepare(&self, db: &Database, apply: bool) -> Result<Vec<Step>> {
        if apply {
            return self.run(db, None);
        }
        let pending: Vec<String> = self
            .status(db, None)?
            .into_iter()
            .filter(|m| m.state != State::Applied)
            .map(|m| format!("{}/{}_{}", m.domain, m.version, m.name))
            .collect();
        if pending.is_empty() { Ok(Vec::new()) } else { Err(Error::PendingMigrations { pending: pending.join(", ") }) }
    }

    /// Where every migration of the selected domains stands. Reads only; creates nothing.
    pub fn status(&self, db: &Database, domain: Option<&str>) -> Result<Vec<MigrationStatus>> {
        let domains = self.select(domain)?;
        let mut connection = db.get()?;
        dispatch!(connection, conn => status_of(conn, &domains))
    }

    /// Reverts migrations of one domain, newest first, each in its own transaction. `domain`
    /// may be omitted only when the migrator has a single domain. A migration whose files are
    /// gone is reverted with the `down.sql` recorded when it was applied.
    pub fn rollback(&self, db: &Database, domain: Option<&str>, target: &RollbackTarget) -> Result<Vec<Step>> {
        let domain = self.single(domain)?;
        let mut connection = db.get()?;
        lock::with_migrator_lock(
            db,
            &mut connection,
            self.policy.lock_timeout,
            |connection| dispatch!(*connection, conn => rollback_domain(conn, domain, target, &self.policy)),
        )
    }

    /// Reverts the last `steps` migrations of one domain and applies them again: the check
    /// that `down.sql` really undoes `up.sql` on this database.
    pub fn redo(&self, db: &Database, domain: Option<&str>, steps: usize) -> Result<Vec<Step>> {
        let domain = self.single(domain)?;
        let mut connection = db.get()?;
        lock::with_migrator_lock(
            db,
            &mut connection,
            self.policy.lock_timeout,
            |connection| dispatch!(*connection, conn => redo_domain(conn, domain, steps, &self.policy)),
        )
    }

    /// What `run` would do, without changing the database: each pending migration with its
    /// transaction mode, exact SQL and lint warnings. The pending migrations are replayed on
    /// a scratch database (after the applied ones) to find what they would break; the first
    /// that fails there carries its error in [`PlannedMigration::fails`].
    pub fn plan(&self, db: &Database, domain: Option<&str>) -> Result<Plan> {
        let selected = self.select(domain)?;
        let backend = db.backend();
        // The applied migrations of every domain are replayed (a selected domain's may build
        // on another's); only the selected domains' pending ones are planned.
        let applied = applied_by_domain(db, &self.domains)?;
        let mut pending_by_domain = Vec::new();
        for (domain, rows) in applied.iter().filter(|(d, _)| selected.iter().any(|s| s.name() == d.name())) {
            pending_by_domain.push((*domain, check_history(domain, rows, backend, &self.policy)?));
        }
        let scratch = Scratch::beside(db)?;
        self.replay(&scratch, &applied)?;
        let mut plan = Plan { migrations: Vec::new() };
        let mut scratch_connection = scratch.database().get()?;
        let mut replaying = true;
        let mut before = Snapshot::read(&mut scratch_connection)?;
        for (domain, pending) in &pending_by_domain {
            for migration in pending {
                let in_transaction = migration.run_in_transaction(domain, backend)?;
                let mut lint = lint::lint_migration(domain, migration, backend, in_transaction, &before);
                let fails = if replaying {
                    let replayed = dispatch!(scratch_connection, conn => replay_up(conn, domain, migration));
                    match replayed {
                        Ok(_) => None,
                        Err(Error::MigrationFailed(failure)) => Some(failure.to_string()),
                        Err(other) => return Err(other),
                    }
                } else {
                    None
                };
                replaying &= fails.is_none();
                if replaying {
                    let after = Snapshot::read(&mut scratch_connection)?;
                    lint.extend(lint::lossy_down(domain, migration, backend, &before, &after));
                    before = after;
                }
                plan.migrations.push(PlannedMigration {
                    domain: domain.name().to_owned(),
                    version: migration.version.to_owned(),
                    name: migration.name.to_owned(),
                    file: migration.path(domain, backend, Direction::Up),
                    in_transaction,
                    sql: migration.script(backend, Direction::Up).to_owned(),
                    lint,
                    fails,
                });
            }
        }
        // After a failure the scratch database is wherever that migration left it.
        let after = if replaying { before } else { Snapshot::read(&mut scratch_connection)? };
        for finding in lint::redundant_indexes(&after, &self.domains) {
            if let Some(planned) = plan.migrations.iter_mut().find(|m| m.file == finding.file) {
                planned.lint.push(finding);
            }
        }
        Ok(plan)
    }

    /// Proves on a scratch database that every migration of the selected domains reverses:
    /// for each in order, up (snapshot), down (must equal the snapshot before up), up again
    /// (must equal the first snapshot). Stops at the first that fails, naming it and the
    /// differences. The database `db` only says which backend and server to use.
    pub fn verify(&self, db: &Database, domain: Option<&str>) -> Result<Verification> {
        let started = Instant::now();
        let domains = self.select(domain)?;
        let scratch = Scratch::beside(db)?;
        let backend = db.backend();
        let mut connection = scratch.database().get()?;
        dispatch!(connection, conn => conn.ensure_bookkeeping())?;
        let mut verified = Vec::new();
        let mut failure = None;
        'domains: for domain in &domains {
            for migration in ordered(domain, &self.policy)? {
                if let Some(failed) = verify_one(&mut connection, domain, migration, backend)? {
                    failure = Some(failed);
                    break 'domains;
                }
                verified.push(migration_id(domain, migration.version, migration.name));
            }
        }
        Ok(Verification { verified, failure, duration_ms: millis(started.elapsed()) })
    }

    /// Compares the live schema with the one its applied migrations produce (replayed on a
    /// scratch database) and lists every difference by name. With a domain, only that
    /// domain's tables are compared.
    pub fn check(&self, db: &Database, domain: Option<&str>) -> Result<CheckReport> {
        let started = Instant::now();
        let selected = self.select(domain)?;
        let scratch = Scratch::beside(db)?;
        let (replayed, not_replayed) = self.replay(&scratch, &applied_by_domain(db, &selected)?)?;
        let expected = Snapshot::read(&mut scratch.database().get()?)?;
        let live = Snapshot::read(&mut db.get()?)?;
        let actual = if domain.is_some() {
            let tables = expected.tables();
            let mut actual = live.restricted_to(&tables);
            actual
                .objects
                .retain(|o| o.table.is_some() || expected.objects.iter().any(|e| e.kind == o.kind && e.name == o.name));
            actual
        } else {
            live.clone()
        };
        let drift = expected.diff(&actual);
        let drift_lines = drift.iter().map(|d| d.describe("migrations", "the database")).collect();
        let lint = lint::redundant_indexes(&live, &self.domains)
            .into_iter()
            .filter(|finding| domain.is_none() || selected.iter().any(|d| Some(d.name()) == finding.domain))
            .collect();
        let mut connection = db.get()?;
        let interrupted = dispatch!(connection, conn => interrupted_of(conn, &selected))?;
        Ok(CheckReport {
            drift,
            drift_lines,
            lint,
            replayed,
            not_replayed,
            interrupted,
            duration_ms: millis(started.elapsed()),
        })
    }

    /// Accepts the current text of an applied migration whose `up.sql` was edited: records its
    /// new checksum (and `down.sql`), and an audit row with the old and new checksum, the time,
    /// the operating-system user and `reason`.
    pub fn rebless(&self, db: &Database, domain: Option<&str>, version: &str, reason: &str) -> Result<AuditRow> {
        let domain = self.single(domain)?;
        if reason.trim().is_empty() {
            return Err(Error::ReasonRequired);
        }
        let mut connection = db.get()?;
        lock::with_migrator_lock(
            db,
            &mut connection,
            self.policy.lock_timeout,
            |connection| dispatch!(*connection, conn => rebless_domain(conn, domain, version, reason)),
        )
    }

    /// Replays on `scratch`, in run order, each domain's applied migrations. Returns how many
    /// were replayed and which applied ones this build lacks.
    fn replay(&self, scratch: &Scratch, applied: &[(&Domain, Vec<AppliedRow>)]) -> Result<(usize, Vec<String>)> {
        let mut target = scratch.database().get()?;
        dispatch!(target, conn => conn.ensure_bookkeeping())?;
        let mut replayed = 0;
        let mut missing = Vec::new();
        for (domain, rows) in applied {
            for row in rows.iter().filter(|row| domain.find(&row.version, &row.name).is_none()) {
                missing.push(migration_id(domain, &row.version, &row.name));
            }
            for migration in ordered(domain, &self.policy)? {
                if rows.iter().any(|row| row.is(migration.version, migration.name)) {
                    dispatch!(target, conn => replay_up(conn, domain, migration))?;
                    replayed += 1;
                }
            }
        }
        Ok((replayed, missing))
    }
}

/// Each of `domains` with the migrations applied to it in `db`.
fn applied_by_domain<'d>(db: &Database, domains: &[&'d Domain]) -> Result<Vec<(&'d Domain, Vec<AppliedRow>)>> {
    let mut connection = db.get()?;
    domains.iter().map(|domain| Ok((*domain, dispatch!(connection, conn => conn.applied(domain.name()))?))).collect()
}

/// Up, down, up for one migration on a scratch connection, comparing snapshots.
fn verify_one(
    connection: &mut DbConnection,
    domain: &Domain,
    migration: &MigrationFiles,
    backend: Backend,
) -> Result<Option<VerifyFailure>> {
    let id = migration_id(domain, migration.version, migration.name);
    let step = |connection: &mut DbConnection, direction: Direction| -> Result<Option<VerifyFailure>> {
        match dispatch!(*connection, conn => apply(conn, domain, migration, direction, Mode::DryRun)) {
            Ok(_) => Ok(None),
            Err(Error::MigrationFailed(failed)) => Ok(Some(VerifyFailure {
                migration: id.clone(),
                file: failed.file.clone(),
                problem: format!("statement {} (line {}) failed: {}", failed.statement, failed.line, failed.message),
                differences: Vec::new(),
            })),
            Err(other) => Err(other),
        }
    };
    let differences = |drift: Vec<Drift>, before: &str, after: &str| -> Vec<String> {
        drift.iter().map(|d| d.describe(before, after)).collect()
    };
    let before = Snapshot::read(connection)?;
    if let Some(failed) = step(connection, Direction::Up)? {
        return Ok(Some(failed));
    }
    let after_up = Snapshot::read(connection)?;
    if let Some(failed) = step(connection, Direction::Down)? {
        return Ok(Some(failed));
    }
    let undone = before.diff(&Snapshot::read(connection)?);
    if !undone.is_empty() {
        return Ok(Some(VerifyFailure {
            migration: id,
            file: migration.path(domain, backend, Direction::Down),
            problem: "down.sql does not restore the schema from before up.sql".into(),
            differences: differences(undone, "the schema before up.sql", "after down.sql it"),
        }));
    }
    if let Some(failed) = step(connection, Direction::Up)? {
        return Ok(Some(failed));
    }
    let redone = after_up.diff(&Snapshot::read(connection)?);
    if !redone.is_empty() {
        return Ok(Some(VerifyFailure {
            migration: id,
            file: migration.path(domain, backend, Direction::Up),
            problem: "up.sql after down.sql gives another schema than the first time".into(),
            differences: differences(redone, "the first up.sql", "the second"),
        }));
    }
    Ok(None)
}

/// A domain's migrations in run order (version, then name), refusing two with one version
/// unless the policy allows it.
fn ordered(domain: &Domain, policy: &Policy) -> Result<Vec<&'static MigrationFiles>> {
    let migrations = in_run_order(domain);
    if !policy.allow_duplicate_versions
        && let Some(pair) = migrations.windows(2).find(|pair| pair[0].version == pair[1].version)
    {
        return Err(Error::DuplicateVersion {
            domain: domain.name().to_owned(),
            version: pair[0].version.to_owned(),
            names: format!("{} and {}", pair[0].name, pair[1].name),
        });
    }
    Ok(migrations)
}

/// Checks a domain's history against its applied rows and returns its pending migrations, in
/// run order; refuses what the policy does not allow.
fn check_history<'a>(
    domain: &'a Domain,
    applied: &[AppliedRow],
    backend: Backend,
    policy: &Policy,
) -> Result<Vec<&'a MigrationFiles>> {
    let migrations = ordered(domain, policy)?;
    for row in applied {
        match domain.find(&row.version, &row.name) {
            None if policy.allow_missing => {
                tracing::warn!(
                    "{} is applied but not in this build; left as it is",
                    migration_id(domain, &row.version, &row.name)
                );
            }
            None => {
                return Err(Error::UnknownAppliedMigration {
                    domain: domain.name().to_owned(),
                    version: row.version.clone(),
                    name: row.name.clone(),
                });
            }
            Some(migration) => {
                let up = migration.script(backend, Direction::Up);
                if !row.matches(up) {
                    return Err(Error::ModifiedMigration { path: migration.path(domain, backend, Direction::Up) });
                }
            }
        }
    }
    let newest = newest_applied(applied);
    let pending: Vec<&MigrationFiles> =
        migrations.into_iter().filter(|m| !applied.iter().any(|row| row.is(m.version, m.name))).collect();
    if let Some(newest) = newest
        && !policy.allow_out_of_order
        && let Some(late) = pending.iter().find(|m| version_order(m.version, newest) == Ordering::Less)
    {
        return Err(Error::OutOfOrder {
            domain: domain.name().to_owned(),
            version: late.version.to_owned(),
            name: late.name.to_owned(),
            newest: newest.to_owned(),
        });
    }
    Ok(pending)
}

/// Reverts the last `steps` migrations of `domain` and applies them again.
fn redo_domain<C: MigrationConnection>(
    conn: &mut C,
    domain: &Domain,
    steps: usize,
    policy: &Policy,
) -> Result<Vec<Step>> {
    let mut done = rollback_domain(conn, domain, &RollbackTarget::Steps(steps), policy)?;
    let reverted: Vec<(String, String)> =
        done.iter().rev().map(|step| (step.version.clone(), step.name.clone())).collect();
    for (version, name) in reverted {
        let Some(migration) = domain.find(&version, &name) else {
            return Err(Error::UnknownAppliedMigration { domain: domain.name().to_owned(), version, name });
        };
        done.extend(apply(conn, domain, migration, Direction::Up, Mode::Real)?);
    }
    Ok(done)
}

/// Records the current text of an applied, edited migration and its audit row.
fn rebless_domain<C: MigrationConnection>(
    conn: &mut C,
    domain: &Domain,
    version: &str,
    reason: &str,
) -> Result<AuditRow> {
    let backend = C::BACKEND;
    conn.ensure_bookkeeping()?;
    conn.ensure_audit()?;
    let applied = conn.applied(domain.name())?;
    let rows: Vec<&AppliedRow> = applied.iter().filter(|row| row.version == version).collect();
    let row = rows
        .iter()
        .find(|row| domain.find(&row.version, &row.name).is_some())
        .or(rows.first())
        .copied()
        .ok_or_else(|| Error::NotApplied { domain: domain.name().to_owned(), version: version.to_owned() })?;
    let Some(migration) = domain.find(&row.version, &row.name) else {
        return Err(Error::UnknownAppliedMigration {
            domain: domain.name().to_owned(),
            version: row.version.clone(),
            name: row.name.clone(),
        });
    };
    let up = migration.script(backend, Direction::Up);
    if row.matches(up) {
        return Err(Error::NothingToRebless { path: migration.path(domain, backend, Direction::Up) });
    }
    let current = ChecksumAlgorithm::CURRENT;
    let audit = AuditRow {
        domain: domain.name().to_owned(),
        version: row.version.clone(),
        name: row.name.clone(),
        action: "rebless".into(),
        old_checksum: row.checksum.clone(),
        new_checksum: current.checksum(up),
        checksum_algorithm: current.id().to_owned(),
        at: now_to_the_microsecond(),
        os_user: lock::os_user(),
        reason: reason.trim().to_owned(),
    };
    let in_transaction = migration.run_in_transaction(domain, backend)?;
    let down = migration.script(backend, Direction::Down);
    conn.exclusive_transaction(|conn| {
        conn.update_recorded(row, &audit.new_checksum, current, Some((down, in_transaction)))?;
        conn.audit(&audit)
    })?;
    tracing::info!("reblessed {}/{}_{}: {}", audit.domain, audit.version, audit.name, audit.reason);
    Ok(audit)
}

fn run_domains<C: MigrationConnection>(conn: &mut C, domains: &[&Domain], policy: &Policy) -> Result<Vec<Step>> {
    conn.ensure_bookkeeping()?;
    // Check every domain before applying anything, so a refusal leaves the database untouched.
    let mut plans = Vec::new();
    for domain in domains {
        let mut applied = conn.applied(domain.name())?;
        if refresh_records(conn, domain, &applied)? {
            applied = conn.applied(domain.name())?;
        }
        plans.push((*domain, check_history(domain, &applied, C::BACKEND, policy)?));
    }
    if !policy.single_transaction {
        let mut steps = Vec::new();
        for (domain, pending) in plans {
            for migration in pending {
                steps.extend(apply(conn, domain, migration, Direction::Up, Mode::Real)?);
            }
        }
        return Ok(steps);
    }
    for (domain, pending) in &plans {
        if let Some(migration) = pending.iter().find(|m| !m.run_in_transaction(domain, C::BACKEND).unwrap_or(true)) {
            return Err(Error::SingleTransactionImpossible {
                migration: migration_id(domain, migration.version, migration.name),
            });
        }
    }
    conn.exclusive_transaction(|conn| {
        let mut steps = Vec::new();
        for (domain, pending) in plans {
            for migration in pending {
                steps.extend(apply(conn, domain, migration, Direction::Up, Mode::OneTransaction)?);
            }
        }
        Ok(steps)
    })
}

/// Brings rows written by older builds up to date when their migration is unchanged: the
/// current checksum algorithm, the `down.sql` text and the transaction mode. Returns whether
/// it changed any.
fn refresh_records<C: MigrationConnection>(conn: &mut C, domain: &Domain, applied: &[AppliedRow]) -> Result<bool> {
    let current = ChecksumAlgorithm::CURRENT;
    let mut changed = false;
    for row in applied {
        let Some(migration) = domain.find(&row.version, &row.name) else { continue };
        let up = migration.script(C::BACKEND, Direction::Up);
        if row.matches(up) && (row.algorithm() != Some(current) || row.down_sql.is_none()) {
            let down = migration.script(C::BACKEND, Direction::Down);
            let in_transaction = migration.run_in_transaction(domain, C::BACKEND)?;
            conn.update_recorded(row, &current.checksum(up), current, Some((down, in_transaction)))?;
            changed = true;
        }
    }
    Ok(changed)
}

fn status_of<C: MigrationConnection>(conn: &mut C, domains: &[&Domain]) -> Result<Vec<MigrationStatus>> {
    let mut statuses = Vec::new();
    for domain in domains {
        let applied = conn.applied(domain.name())?;
        let newest = newest_applied(&applied);
        for migration in in_run_order(domain) {
            let row = applied.iter().find(|row| row.is(migration.version, migration.name));
            let up = migration.script(C::BACKEND, Direction::Up);
            let state = match row {
                None if newest.is_some_and(|newest| version_order(migration.version, newest) == Ordering::Less) => {
                    State::OutOfOrder
                }
                None => State::Pending,
                Some(row) if !row.matches(up) => State::Modified,
                Some(_) => State::Applied,
            };
            statuses.push(MigrationStatus {
                domain: domain.name().to_owned(),
                version: migration.version.to_owned(),
                name: migration.name.to_owned(),
                state,
                applied_at: row.map(|row| row.applied_at),
                duration_ms: row.map(|row| row.duration_ms),
            });
        }
        for row in applied.iter().filter(|row| domain.find(&row.version, &row.name).is_none()) {
            statuses.push(MigrationStatus {
                domain: domain.name().to_owned(),
                version: row.version.clone(),
                name: row.name.clone(),
                state: State::Unknown,
                applied_at: Some(row.applied_at),
                duration_ms: Some(row.duration_ms),
            });
        }
    }
    Ok(statuses)
}

fn rollback_domain<C: MigrationConnection>(
    conn: &mut C,
    domain: &Domain,
    target: &RollbackTarget,
    policy: &Policy,
) -> Result<Vec<Step>> {
    if conn.bookkeeping_shape()? != crate::bookkeeping::Shape::Absent {
        conn.ensure_bookkeeping()?;
    }
    let mut applied = conn.applied(domain.name())?;
    applied.sort_by(|a, b| run_order((&a.version, &a.name), (&b.version, &b.name)));
    // Every known applied migration must be unchanged; a missing one is reverted from its record.
    let known: Vec<AppliedRow> =
        applied.iter().filter(|row| domain.find(&row.version, &row.name).is_some()).cloned().collect();
    check_history(domain, &known, C::BACKEND, &Policy { allow_out_of_order: true, ..policy.clone() })?;
    let mut steps = Vec::new();
    for row in plan_rollback(domain, &applied, target)? {
        match domain.find(&row.version, &row.name) {
            Some(migration) => steps.extend(apply(conn, domain, migration, Direction::Down, Mode::Real)?),
            None => steps.extend(revert_from_record(conn, domain, row)?),
        }
    }
    Ok(steps)
}

/// Rows to revert, newest first; checked completely before anything is reverted.
fn plan_rollback<'r>(
    domain: &Domain,
    applied: &'r [AppliedRow],
    target: &RollbackTarget,
) -> Result<Vec<&'r AppliedRow>> {
    let newest_first = applied.iter().rev();
    let rows: Vec<&AppliedRow> = match target {
        RollbackTarget::Steps(steps) if *steps > applied.len() => {
            return Err(Error::RollbackTooFar {
                domain: domain.name().to_owned(),
                requested: *steps,
                applied: applied.len(),
            });
        }
        RollbackTarget::Steps(steps) => newest_first.take(*steps).collect(),
        RollbackTarget::To(version) if version == "0" => newest_first.collect(),
        RollbackTarget::To(version) if applied.iter().any(|row| &row.version == version) => {
            newest_first.filter(|row| version_order(&row.version, version) == Ordering::Greater).collect()
        }
        RollbackTarget::To(version) => {
            return Err(Error::RollbackTargetNotApplied { domain: domain.name().to_owned(), version: version.clone() });
        }
    };
    if let Some(row) = rows.iter().find(|row| row.down_sql.is_none() && domain.find(&row.version, &row.name).is_none())
    {
        return Err(Error::NoRecordedDown {
            domain: domain.name().to_owned(),
            version: row.version.clone(),
            name: row.name.clone(),
        });
    }
    Ok(rows)
}

/// Whether a run changes the database the user named (each migration in its own transaction,
/// or all in the run's one transaction), or replays on a scratch one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Real,
    OneTransaction,
    DryRun,
}

/// Applies or reverts one migration and updates the bookkeeping in the same transaction.
/// Returns `None` when it was already in that state.
fn apply<C: MigrationConnection>(
    conn: &mut C,
    domain: &Domain,
    migration: &MigrationFiles,
    direction: Direction,
    mode: Mode,
) -> Result<Option<Step>> {
    let in_transaction = migration.run_in_transaction(domain, C::BACKEND)?;
    let script = Script {
        id: migration_id(domain, migration.version, migration.name),
        file: migration.path(domain, C::BACKEND, direction),
        text: migration.script(C::BACKEND, direction),
        in_transaction,
        mode,
    };
    let up = migration.script(C::BACKEND, Direction::Up);
    let row = |elapsed: Duration| AppliedRow {
        domain: domain.name().to_owned(),
        version: migration.version.to_owned(),
        name: migration.name.to_owned(),
        checksum: ChecksumAlgorithm::CURRENT.checksum(up),
        checksum_algorithm: ChecksumAlgorithm::CURRENT.id().to_owned(),
        applied_at: now_to_the_microsecond(),
        duration_ms: millis(elapsed) as i64,
        run_in_transaction: in_transaction,
        down_sql: Some(migration.script(C::BACKEND, Direction::Down).to_owned()),
    };
    run_script(conn, domain, migration.version, migration.name, direction, &script, row)
}

/// Applies a migration on a scratch database.
fn replay_up<C: MigrationConnection>(
    conn: &mut C,
    domain: &Domain,
    migration: &MigrationFiles,
) -> Result<Option<Step>> {
    apply(conn, domain, migration, Direction::Up, Mode::DryRun)
}

/// Reverts a migration whose files are gone, with its recorded `down.sql`.
fn revert_from_record<C: MigrationConnection>(conn: &mut C, domain: &Domain, row: &AppliedRow) -> Result<Option<Step>> {
    let down = row.down_sql.as_deref().unwrap_or_default();
    let script = Script {
        id: migration_id(domain, &row.version, &row.name),
        file: format!("the down.sql recorded for {}", migration_id(domain, &row.version, &row.name)),
        text: down,
        in_transaction: row.run_in_transaction,
        mode: Mode::Real,
    };
    tracing::warn!("{} is not in this build; reverting it with the down.sql recorded when it was applied", script.id);
    let step = run_script(conn, domain, &row.version, &row.name, Direction::Down, &script, |_| row.clone())?;
    Ok(step.map(|step| Step { from_record: true, ..step }))
}

struct Script<'a> {
    id: String,
    file: String,
    text: &'a str,
    in_transaction: bool,
    mode: Mode,
}

fn run_script<C: MigrationConnection>(
    conn: &mut C,
    domain: &Domain,
    version: &str,
    name: &str,
    direction: Direction,
    script: &Script<'_>,
    row: impl Fn(Duration) -> AppliedRow,
) -> Result<Option<Step>> {
    let body = |conn: &mut C| -> Result<Option<Step>> {
        if conn.is_applied(domain.name(), version, name)? == (direction == Direction::Up) {
            return Ok(None);
        }
        if script.mode != Mode::DryRun {
            tracing::info!("{} {}", if direction == Direction::Up { "applying" } else { "reverting" }, script.id);
        }
        // A script outside a transaction cannot be undone as a whole: an audit row says it
        // started before its first statement and another that it finished after the
        // bookkeeping, so one killed in between is known (`CheckReport::interrupted`) and the
        // next run, which runs it again (such scripts are idempotent), says it finishes it.
        let untransacted = !script.in_transaction && script.mode == Mode::Real;
        let way = if direction == Direction::Up { "up" } else { "down" };
        if untransacted {
            if let Some(earlier) = unfinished(&conn.audit_trail(domain.name())?, version, name) {
                tracing::warn!("{} was interrupted ({earlier}); running it again to finish it", script.id);
            }
            conn.ensure_audit()?;
            conn.audit(&progress_row(domain.name(), version, name, &format!("{way} started"), script))?;
        }
        let started = Instant::now();
        execute_script(conn, script)?;
        let elapsed = started.elapsed();
        match direction {
            Direction::Up => conn.record(&row(elapsed))?,
            Direction::Down => conn.forget(domain.name(), version, name)?,
        }
        if untransacted {
            conn.audit(&progress_row(domain.name(), version, name, &format!("{way} finished"), script))?;
        }
        Ok(Some(Step {
            domain: domain.name().to_owned(),
            version: version.to_owned(),
            name: name.to_owned(),
            direction: if direction == Direction::Up { "up" } else { "down" },
            duration_ms: millis(elapsed),
            sql_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            from_record: false,
        }))
    };
    if script.in_transaction && script.mode != Mode::OneTransaction {
        conn.exclusive_transaction(body)
    } else {
        body(conn)
    }
}

/// Runs a script statement by statement (so a failure names its statement and line, and a
/// non-transactional script is never wrapped in an implicit transaction block).
fn execute_script<C: MigrationConnection>(conn: &mut C, script: &Script<'_>) -> Result<()> {
    for (index, statement) in split_statements(script.text).iter().enumerate() {
        conn.batch_execute(statement.text).map_err(|source| {
            let outcome = match (script.mode, script.in_transaction) {
                (Mode::DryRun, _) => {
                    "this ran on a scratch database: the database you named was not touched".to_owned()
                }
                (Mode::OneTransaction, _) => {
                    "the whole run was one transaction (single_transaction), which was rolled back: the database is as it was before the run".to_owned()
                }
                (Mode::Real, true) => {
                    "it ran in a transaction, which was rolled back: the database is as it was before this migration"
                        .to_owned()
                }
                (Mode::Real, false) if index == 0 => {
                    "it runs outside a transaction (metadata.toml: run_in_transaction = false); no statement of it had succeeded".to_owned()
                }
                (Mode::Real, false) => format!(
                    "it runs outside a transaction (metadata.toml: run_in_transaction = false): statements 1 to {index} stay applied and must be undone or completed by hand"
                ),
            };
            Error::MigrationFailed(Box::new(MigrationFailure {
                migration: script.id.clone(),
                file: script.file.clone(),
                statement: index + 1,
                line: statement.line,
                sql: preview(statement.text),
                message: source.to_string(),
                outcome,
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

/// Now, at the precision both backends store (PostgreSQL keeps microseconds).
/// Every migration of `domains` whose non-transactional script started and never finished.
fn interrupted_of<C: MigrationConnection>(conn: &mut C, domains: &[&Domain]) -> Result<Vec<String>> {
    let mut interrupted = Vec::new();
    for domain in domains {
        let trail = conn.audit_trail(domain.name())?;
        for migration in domain.migrations() {
            let Some(what) = unfinished(&trail, migration.version, migration.name) else { continue };
            // Killed after its bookkeeping but before the row saying it finished, it did
            // finish: only an up not recorded, or a down still recorded, is unfinished.
            let applied = conn.is_applied(domain.name(), migration.version, migration.name)?;
            if applied == what.starts_with("down") {
                interrupted.push(format!("{} ({what})", migration_id(domain, migration.version, migration.name)));
            }
        }
    }
    Ok(interrupted)
}

/// An audit row of a non-transactional script's progress (`up started`, `up finished`, ...).
fn progress_row(domain: &str, version: &str, name: &str, action: &str, script: &Script<'_>) -> AuditRow {
    let checksum = ChecksumAlgorithm::CURRENT.checksum(script.text);
    AuditRow {
        domain: domain.to_owned(),
        version: version.to_owned(),
        name: name.to_owned(),
        action: action.to_owned(),
        old_checksum: checksum.clone(),
        new_checksum: checksum,
        checksum_algorithm: ChecksumAlgorithm::CURRENT.id().to_owned(),
        at: now_to_the_microsecond(),
        os_user: lock::os_user(),
        reason: "a non-transactional script: recorded so an interrupted run is known".to_owned(),
    }
}

/// When the migration's last progress row in `trail` (its domain's audit trail, oldest
/// first) says a script started and never finished: its action and time.
fn unfinished(trail: &[AuditRow], version: &str, name: &str) -> Option<String> {
    let last = trail.iter().rfind(|row| {
        row.version == version
            && row.name == name
            && (row.action.ends_with(" started") || row.action.ends_with(" finished"))
    })?;
    last.action.ends_with(" started").then(|| format!("{} at {} UTC, not finished", last.action, last.at))
}

fn now_to_the_microsecond() -> NaiveDateTime {
    let now = Utc::now().naive_utc();
    chrono::DurationRound::duration_trunc(now, chrono::TimeDelta::microseconds(1)).unwrap_or(now)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_as_numbers() {
        assert_eq!(version_order("9", "10"), Ordering::Less);
        assert_eq!(version_order("20251003000100", "20251003000000"), Ordering::Greater);
        assert_eq!(version_order("007", "7"), Ordering::Equal);
        assert_eq!(version_order("a", "b"), Ordering::Less);
    }
}
