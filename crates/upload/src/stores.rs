//! Store attributes: one row per store. The file is the store master: a new store is added, a
//! known one takes the file's attributes (its cluster is kept), and a store the file does not
//! name is left as it is.

use diesel::prelude::*;
use import_core::{Column, ColumnType, Importer, Merged, Stage, StageRow, Unstorable, Values};
use migration_core::Domain;
use migration_core::sql::Prepared;
use upload_validator::{Context, PayloadKind, Record, Validator};

use crate::conn::Conn;

/// The stage, named as the `stores` columns it is written to.
const STAGE: Stage = {
    use ColumnType::{BigInt, Text};
    Stage {
        table: "store_stage",
        columns: &[
            Column::required("store_id", Text),
            Column::required("store_name", Text),
            // Exact text; the table's FLOAT takes it in the merge.
            Column::required("avg_weekly_sales_12mo", Text),
            Column::required("store_size_sqft", BigInt),
            Column::required("median_income", BigInt),
            Column::required("location_tier", Text),
            Column::required("fashion_tier", Text),
            Column::required("store_format", Text),
            Column::required("region", Text),
        ],
    }
};

/// The columns a file sets, in `stores`, after `store_id`.
const ATTRIBUTES: [&str; 8] = [
    "store_name",
    "avg_weekly_sales_12mo",
    "store_size_sqft",
    "median_income",
    "location_tier",
    "fashion_tier",
    "store_format",
    "region",
];

/// The store attributes importer.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreAttributes;

/// One valid store row.
#[derive(Debug)]
pub struct StoreRow {
    line: i64,
    store_id: String,
    store_name: String,
    avg_weekly_sales_12mo: String,
    store_size_sqft: i64,
    median_income: i64,
    location_tier: &'static str,
    fashion_tier: &'static str,
    store_format: &'static str,
    region: &'static str,
}

impl StageRow for StoreRow {
    fn write<'b>(&'b self, values: &mut dyn Values<'b>) {
        values.bigint(&self.line);
        values.text(&self.store_id);
        values.text(&self.store_name);
        values.text(&self.avg_weekly_sales_12mo);
        values.bigint(&self.store_size_sqft);
        values.bigint(&self.median_income);
        values.text(self.location_tier);
        values.text(self.fashion_tier);
        values.text(self.store_format);
        values.text(self.region);
    }
}

impl Importer for StoreAttributes {
    type Row = StoreRow;
    const STAGE: Stage = STAGE;
    const SKIPPED: &'static [&'static str] = &["unchanged"];

    fn domain(&self) -> &'static Domain {
        &crate::MIGRATIONS
    }

    fn validator(&self) -> Result<Validator, upload_validator::Error> {
        Validator::new(PayloadKind::StoreAttributes, Context::none())
    }

    fn row(&self, record: Record) -> Result<Option<StoreRow>, Unstorable> {
        let Record::Store(store) = record else { return Ok(None) };
        let unstorable = |what| Unstorable { line: store.line, what };
        Ok(Some(StoreRow {
            line: i64::try_from(store.line).map_err(|_| unstorable("line number"))?,
            store_size_sqft: i64::try_from(store.store_size_sqft).map_err(|_| unstorable("store size"))?,
            median_income: i64::try_from(store.median_income).map_err(|_| unstorable("median income"))?,
            avg_weekly_sales_12mo: store.avg_weekly_sales_12mo.as_str().to_owned(),
            store_id: store.store_id,
            store_name: store.store_name,
            location_tier: store.location_tier,
            fashion_tier: store.fashion_tier,
            store_format: store.store_format,
            region: store.region,
        }))
    }

    fn merge_postgres(&self, conn: &mut PgConnection, _: &str, staged: u64) -> import_core::Result<Merged> {
        merge(&mut Conn::Postgres(conn), staged)
    }

    fn merge_sqlite(&self, conn: &mut SqliteConnection, _: &str, staged: u64) -> import_core::Result<Merged> {
        merge(&mut Conn::Sqlite(conn), staged)
    }
}

/// `old.<column> IS DISTINCT FROM <new column>` for every attribute, joined by OR.
fn changed(old: &str, new: impl Fn(&str) -> String) -> String {
    ATTRIBUTES.iter().map(|c| format!("{old}.{c} IS DISTINCT FROM {}", new(c))).collect::<Vec<_>>().join(" OR ")
}

/// The stage's value of `column` as `stores` holds it.
fn staged(column: &str) -> String {
    if column == "avg_weekly_sales_12mo" { format!("CAST(s.{column} AS FLOAT)") } else { format!("s.{column}") }
}

fn merge(conn: &mut Conn<'_>, staged_rows: u64) -> import_core::Result<Merged> {
    let temp = conn.temp();
    let (new_stores, updated) = {
        let sql = format!(
            "SELECT count(*) - count(t.store_id) AS n FROM {temp}.store_stage s LEFT JOIN stores t ON t.store_id = s.store_id"
        );
        let new_stores = conn.count(Prepared::new(sql), "count the new stores")?;
        let sql = format!(
            "SELECT count(*) AS n FROM {temp}.store_stage s JOIN stores t ON t.store_id = s.store_id WHERE {}",
            changed("t", staged)
        );
        (new_stores, conn.count(Prepared::new(sql), "count the stores whose attributes change")?)
    };
    let columns = ATTRIBUTES.join(", ");
    let values: Vec<String> = ATTRIBUTES.iter().map(|c| staged(c)).collect();
    let set: Vec<String> = ATTRIBUTES.iter().map(|c| format!("{c} = excluded.{c}")).collect();
    let sql = format!(
        "INSERT INTO stores (store_id, {columns})
SELECT s.store_id, {values} FROM {temp}.store_stage s WHERE true ORDER BY s.store_id
ON CONFLICT (store_id) DO UPDATE SET {set} WHERE {changed}",
        values = values.join(", "),
        set = set.join(", "),
        changed = changed("stores", |c| format!("excluded.{c}")),
    );
    let written = conn.execute(Prepared::new(sql), "write the stores")?;
    debug_assert_eq!(written, new_stores + updated, "the counts agree with the upsert");
    Ok(Merged {
        inserted: written,
        skipped: vec![("unchanged", staged_rows - written)],
        details: vec![("new_stores", new_stores), ("updated_stores", updated)],
    })
}
