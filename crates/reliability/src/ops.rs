//! The operations the crash suite kills: every command that writes, on inputs big enough
//! that a random moment falls inside the work.

use migration_core::Database;
use persistent_storage::secrets::Keyring;
use persistent_storage::{Collection, Store};
use secrecy::SecretString;

use crate::crash::{Env, Judge, Operation, rotation};

/// Every operation, in the table's order.
pub fn all() -> Vec<Operation> {
    vec![
        Operation {
            name: "migrate (every domain)",
            prepare: |_, _| Ok(()),
            command: |env, url| env.intake(url, &["migrate", "run"]),
            judge: Judge::Migrations,
            ignore: &[],
            refused_again: None,
        },
        Operation {
            name: "executions import",
            prepare: migrated,
            command: |env, url| env.intake(url, &["executions", "import", &env.file(EXECUTIONS)]),
            judge: Judge::Exact,
            ignore: &[],
            refused_again: None,
        },
        Operation {
            name: "uploads store-attributes",
            prepare: migrated,
            command: |env, url| env.intake(url, &["uploads", "store-attributes", &env.file(STORES)]),
            judge: Judge::Exact,
            ignore: &[],
            refused_again: None,
        },
        Operation {
            name: "uploads historical-sales",
            prepare: |env, url| {
                env.run(url, &["migrate", "run"])?;
                env.run(url, &["uploads", "store-attributes", &env.file(STORES)])?;
                sql(url, PLANNING)
            },
            command: |env, url| env.intake(url, &["uploads", "historical-sales", &env.file(SALES)]),
            judge: Judge::Exact,
            ignore: &[],
            refused_again: Some("are stored already"),
        },
        Operation {
            name: "uploads weekly-actuals",
            prepare: |env, url| {
                env.run(url, &["migrate", "run"])?;
                env.run(url, &["uploads", "store-attributes", &env.file(STORES)])?;
                sql(url, PLANNING)
            },
            command: |env, url| {
                env.intake(url, &["uploads", "weekly-actuals", "--workflow", "spring", "--week", "1", &env.file(WEEK)])
            },
            judge: Judge::Exact,
            ignore: &[],
            refused_again: Some("was uploaded before"),
        },
        Operation {
            name: "alm import",
            prepare: migrated,
            command: |env, url| env.intake(url, &["alm", "import", "--date", "2025-06-02", &env.file(FLEX)]),
            judge: Judge::Alm,
            ignore: &[],
            refused_again: None,
        },
        Operation {
            name: "storage rotate-key",
            prepare: |env, url| {
                env.run(url, &["migrate", "run", "--domain", "persistent_storage"])?;
                store_profiles(url)
            },
            command: |env, url| {
                let mut command = env.intake(url, &["storage", "rotate-key", "--batch", "50"]);
                command.env("INTAKE_SECRET_KEY", rotation::KEYS);
                command
            },
            judge: Judge::Rotation,
            ignore: &["secrets"],
            refused_again: None,
        },
    ]
}

/// The generated inputs' names.
pub const EXECUTIONS: &str = "executions.csv";
/// Store attributes of [`ATTRIBUTE_STORES`] stores.
pub const STORES: &str = "stores.csv";
/// A year of daily sales.
pub const SALES: &str = "sales.csv";
/// Week 1 of the `spring` workflow.
pub const WEEK: &str = "week-1.csv";
/// An IB Flex Trades report.
pub const FLEX: &str = "Trades_(1257686)_LBD.xml";
/// Stores in the store attributes file.
pub const ATTRIBUTE_STORES: usize = 20_000;
/// Stores in the sales and weekly files (the first of those).
pub const STORE_COUNT: usize = 400;
/// Profiles with secrets before a rotation.
pub const PROFILES: usize = 600;

/// The planning rows the retail uploads need.
const PLANNING: &str = "
INSERT INTO categories (category_id, category_name) VALUES ('womens_dresses', 'Women''s Dresses'), ('mens_shirts', 'Men''s Shirts');
INSERT INTO workflows (workflow_id, category_id, season_start) VALUES ('spring', 'womens_dresses', '2025-03-01');";

/// Every domain's migrations applied: where most operations start.
fn migrated(env: &Env, url: &str) -> Result<(), String> {
    env.run(url, &["migrate", "run"]).map(drop)
}

/// Writes the input files into `env.files`.
pub fn write_inputs(env: &Env) -> Result<(), String> {
    let io = |e: std::io::Error| format!("writing the inputs in {}: {e}", env.files.display());
    let mut executions = std::io::BufWriter::new(std::fs::File::create(env.files.join(EXECUTIONS)).map_err(io)?);
    fixtures::ninjatrader::write_export(
        &mut executions,
        fixtures::ninjatrader::Style::NATIVE_EN_US,
        fixtures::ninjatrader::Generator::new(15).take(40_000),
    )
    .map_err(io)?;
    std::io::Write::flush(&mut executions).map_err(io)?;
    let all = fixtures::retail::store_ids(ATTRIBUTE_STORES);
    std::fs::write(env.files.join(STORES), fixtures::retail::store_attributes(&all)).map_err(io)?;
    let stores = &all[..STORE_COUNT];
    let mut sales = std::io::BufWriter::new(std::fs::File::create(env.files.join(SALES)).map_err(io)?);
    let first = fixtures::retail::Day::ymd(2024, 1, 1);
    fixtures::retail::historical_sales(first, 60, &["Women's Dresses", "Men's Shirts"], stores, &mut sales)
        .map_err(io)?;
    std::io::Write::flush(&mut sales).map_err(io)?;
    let week = fixtures::retail::weekly_actuals(fixtures::retail::Day::ymd(2025, 3, 1), stores, |d, s| {
        (d * 7 + s) as u64 % 40
    });
    std::fs::write(env.files.join(WEEK), week).map_err(io)?;
    let mut flex = std::io::BufWriter::new(std::fs::File::create(env.files.join(FLEX)).map_err(io)?);
    fixtures::flex::write_trades(&mut flex, 4_000_000).map_err(io)?;
    std::io::Write::flush(&mut flex).map_err(io)?;
    Ok(())
}

/// Runs SQL statements on the database at `url`.
pub fn sql(url: &str, statements: &str) -> Result<(), String> {
    let db = Database::connect(url).map_err(|e| e.to_string())?;
    let mut connection = db.get().map_err(|e| e.to_string())?;
    connection.batch_execute(statements).map_err(|e| format!("{statements}: {e}"))
}

/// [`PROFILES`] connector profiles, their secrets sealed with the old key.
fn store_profiles(url: &str) -> Result<(), String> {
    let keys = Keyring::parse(&SecretString::from(rotation::OLD_KEY)).map_err(|e| e.to_string())?;
    let store = Store::new(Database::connect(url).map_err(|e| e.to_string())?, Some(keys));
    for n in 0..PROFILES {
        let id = format!("p-{n}");
        let body = serde_json::json!({
            "id": id,
            "name": format!("Profile {n}"),
            "type": "sql",
            "connection_string": rotation::connection_string(&id),
            "credentials": {"username": "etl", "password": rotation::password(&id)},
        });
        store.create(Collection::ConnectorProfiles, body.to_string().as_bytes()).map_err(|e| e.to_string())?;
    }
    Ok(())
}
