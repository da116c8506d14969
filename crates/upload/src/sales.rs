//! Historical sales: daily `date,category,store_id,quantity_sold,revenue` rows, categories by
//! display name. Each row is one day of one category in one store; its key `sale_id` is
//! `<date>/<category_id>/<store_id>` (the migration `daily_sales_and_fashion_tier` says why),
//! so a day uploaded twice is found by the primary key: refused, unless replacing is asked for.

use chrono::{Datelike as _, Days, NaiveDate};
use diesel::prelude::*;
use import_core::{Column, ColumnType, Error, Importer, Merged, Stage, StageRow, Unstorable, Values};
use migration_core::Domain;
use migration_core::sql::Prepared;
use upload_validator::{Context, HistoricalSalesContext, PayloadKind, Record, Validator};

use crate::conn::Conn;

/// The stage, named as the `historical_sales` columns it is written to.
const STAGE: Stage = {
    use ColumnType::{BigInt, Date, Text};
    Stage {
        table: "sale_stage",
        columns: &[
            Column::required("sale_id", Text),
            Column::required("sale_date", Date),
            Column::required("week_start_date", Date),
            Column::required("category_id", Text),
            Column::required("store_id", Text),
            Column::required("units_sold", BigInt),
            // Exact text; NUMERIC(14,2) takes it in the merge.
            Column::required("revenue", Text),
        ],
    }
};

/// The historical sales importer: the file is checked against the known stores and
/// categories; `replace` overwrites days already stored instead of refusing the file.
#[derive(Debug, Clone)]
pub struct HistoricalSales {
    /// The stores and categories the file is checked against.
    pub context: HistoricalSalesContext,
    /// Overwrite rows already stored for the same day, category and store.
    pub replace: bool,
}

/// One valid day of one category in one store.
#[derive(Debug)]
pub struct SaleRow {
    line: i64,
    sale_id: String,
    sale_date: NaiveDate,
    week_start_date: NaiveDate,
    category_id: String,
    store_id: String,
    units_sold: i64,
    revenue: String,
}

impl StageRow for SaleRow {
    fn write<'b>(&'b self, values: &mut dyn Values<'b>) {
        values.bigint(&self.line);
        values.text(&self.sale_id);
        values.date(&self.sale_date);
        values.date(&self.week_start_date);
        values.text(&self.category_id);
        values.text(&self.store_id);
        values.bigint(&self.units_sold);
        values.text(&self.revenue);
    }
}

/// The key of one day of one category in one store.
pub fn sale_id(date: NaiveDate, category_id: &str, store_id: &str) -> String {
    format!("{date}/{category_id}/{store_id}")
}

impl Importer for HistoricalSales {
    type Row = SaleRow;
    const STAGE: Stage = STAGE;
    const SKIPPED: &'static [&'static str] = &[];
    /// Half the default: a million-row file peaked at 89 MB with the default caches, at 58 MB
    /// with these, in the same time.
    const SQLITE_CACHE_KIB: u32 = 16 * 1024;

    fn domain(&self) -> &'static Domain {
        &crate::MIGRATIONS
    }

    fn validator(&self) -> Result<Validator, upload_validator::Error> {
        Validator::new(PayloadKind::HistoricalSales, Context::of(self.context.clone()))
    }

    fn row(&self, record: Record) -> Result<Option<SaleRow>, Unstorable> {
        let Record::HistoricalSale(sale) = record else { return Ok(None) };
        let unstorable = |what| Unstorable { line: sale.line, what };
        let monday = Days::new(u64::from(sale.date.weekday().num_days_from_monday()));
        Ok(Some(SaleRow {
            line: i64::try_from(sale.line).map_err(|_| unstorable("line number"))?,
            sale_id: sale_id(sale.date, &sale.category_id, &sale.store_id),
            week_start_date: sale.date.checked_sub_days(monday).ok_or_else(|| unstorable("week"))?,
            sale_date: sale.date,
            units_sold: i64::try_from(sale.quantity_sold).map_err(|_| unstorable("quantity"))?,
            revenue: sale.revenue.as_str().to_owned(),
            category_id: sale.category_id,
            store_id: sale.store_id,
        }))
    }

    fn merge_postgres(&self, conn: &mut PgConnection, file: &str, staged: u64) -> import_core::Result<Merged> {
        self.merge(&mut Conn::Postgres(conn), file, staged)
    }

    fn merge_sqlite(&self, conn: &mut SqliteConnection, file: &str, staged: u64) -> import_core::Result<Merged> {
        self.merge(&mut Conn::Sqlite(conn), file, staged)
    }
}

const COLUMNS: &str = "sale_id, sale_date, week_start_date, category_id, store_id, units_sold, revenue";

/// The first row of a file that is stored already, and how many are.
#[derive(QueryableByName)]
struct Stored {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    line: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    sale_id: String,
}

/// Why the insert's savepoint was undone.
enum Undo {
    /// Some of the file's days were stored already.
    SomeStored,
    /// A statement failed.
    Failed(Error),
}

impl From<diesel::result::Error> for Undo {
    fn from(error: diesel::result::Error) -> Self {
        Undo::Failed(error.into())
    }
}

impl From<Error> for Undo {
    fn from(error: Error) -> Self {
        Undo::Failed(error)
    }
}

impl HistoricalSales {
    fn merge(&self, conn: &mut Conn<'_>, file: &str, staged: u64) -> import_core::Result<Merged> {
        let temp = conn.temp();
        let insert = format!(
            "INSERT INTO historical_sales ({COLUMNS})
SELECT sale_id, sale_date, week_start_date, category_id, store_id, units_sold, CAST(revenue AS NUMERIC(14,2))
FROM {temp}.sale_stage WHERE true"
        );
        if self.replace {
            let replaced = conn.count(
                Prepared::new(format!(
                    "SELECT count(*) AS n FROM {temp}.sale_stage s JOIN historical_sales h ON h.sale_id = s.sale_id"
                )),
                "count the days stored already",
            )?;
            let sql = format!(
                "{insert}
ON CONFLICT (sale_id) DO UPDATE SET sale_date = excluded.sale_date, week_start_date = excluded.week_start_date,
    category_id = excluded.category_id, store_id = excluded.store_id, units_sold = excluded.units_sold,
    revenue = excluded.revenue"
            );
            let written = conn.execute(Prepared::new(sql), "write the historical sales")?;
            return Ok(Merged { inserted: written, skipped: Vec::new(), details: vec![("replaced", replaced)] });
        }
        // Fresh days are the common case: one pass, and only when some were stored already is
        // the insert undone (its savepoint) and the first of them looked up for the message.
        let sql = format!("{insert}\nON CONFLICT (sale_id) DO NOTHING");
        let outcome = conn.savepoint(|conn| {
            let written = conn.execute(Prepared::new(sql), "write the historical sales")?;
            if written < staged { Err(Undo::SomeStored) } else { Ok(written) }
        });
        match outcome {
            Ok(written) => Ok(Merged { inserted: written, skipped: Vec::new(), details: vec![("replaced", 0)] }),
            Err(Undo::Failed(error)) => Err(error),
            Err(Undo::SomeStored) => {
                let first: Vec<Stored> = conn.load(
                    Prepared::new(format!(
                        "SELECT (SELECT count(*) FROM {temp}.sale_stage s JOIN historical_sales h ON h.sale_id = s.sale_id) AS n,
       s.line AS line, s.sale_id AS sale_id
FROM {temp}.sale_stage s JOIN historical_sales h ON h.sale_id = s.sale_id ORDER BY s.line LIMIT 1"
                    )),
                    "find the days stored already",
                )?;
                let (n, line, key) =
                    first.into_iter().next().map_or((0, 0, String::new()), |f| (f.n, f.line, f.sale_id));
                Err(Error::Conflict {
                    path: file.into(),
                    rule: "already-uploaded",
                    message: format!(
                        "{n} of its {staged} rows are stored already (the first on line {line}: {}); upload with replace to overwrite them, or leave those days out of the file",
                        key.replace('/', " / "),
                    ),
                })
            }
        }
    }
}
