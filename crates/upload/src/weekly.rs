//! Weekly actuals: a file of daily `date,store_id,quantity_sold` rows for one week of one
//! workflow, summed per store into `weekly_actuals`. The week's dates and category come from
//! the workflow ([`Week`]), each store's forecast from `workflow_forecasts`, and
//! `variance_pct = (actual − forecast) / forecast`, NULL where the forecast is missing or
//! zero. A week uploaded before is refused unless replacing is asked for; replacing swaps the
//! whole week, so a store left out of the new file has no row left for it.

use chrono::NaiveDate;
use diesel::prelude::*;
use import_core::{Column, ColumnType, Error, Importer, Merged, Stage, StageRow, Unstorable, Values};
use migration_core::Domain;
use migration_core::sql::Prepared;
use upload_validator::{Context, PayloadKind, Record, Validator, WeeklyActualsContext};

use crate::Week;
use crate::conn::Conn;

const STAGE: Stage = {
    use ColumnType::{BigInt, Date, Text};
    Stage {
        table: "day_stage",
        columns: &[
            Column::required("sale_date", Date),
            Column::required("store_id", Text),
            Column::required("quantity", BigInt),
        ],
    }
};

/// How far a week's actual units are from the forecast, by magnitude: up to 10 % normal, up
/// to 20 % elevated, beyond that high (a re-forecast trigger).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// |variance| ≤ 10 %.
    Normal,
    /// 10 % < |variance| ≤ 20 %.
    Elevated,
    /// |variance| > 20 %.
    High,
}

impl Classification {
    /// The class of a `variance_pct` (a fraction: 0.15 is 15 %); `None` without a variance
    /// (no forecast, or a forecast of zero).
    pub fn of(variance_pct: Option<f64>) -> Option<Classification> {
        let magnitude = variance_pct?.abs();
        Some(if magnitude <= 0.10 {
            Classification::Normal
        } else if magnitude <= 0.20 {
            Classification::Elevated
        } else {
            Classification::High
        })
    }

    /// Its name in reports (`normal`, `elevated`, `high`).
    pub fn name(self) -> &'static str {
        match self {
            Classification::Normal => "normal",
            Classification::Elevated => "elevated",
            Classification::High => "high",
        }
    }
}

/// The weekly actuals importer for one week of one workflow.
#[derive(Debug, Clone)]
pub struct WeeklyActuals {
    /// The week.
    pub week: Week,
    /// What the file is checked against (the week's first day, the known stores).
    pub context: WeeklyActualsContext,
    /// Replace the week's rows if it was uploaded before, instead of refusing the file.
    pub replace: bool,
}

/// One valid day of one store.
#[derive(Debug)]
pub struct DayRow {
    line: i64,
    sale_date: NaiveDate,
    store_id: String,
    quantity: i64,
}

impl StageRow for DayRow {
    fn write<'b>(&'b self, values: &mut dyn Values<'b>) {
        values.bigint(&self.line);
        values.date(&self.sale_date);
        values.text(&self.store_id);
        values.bigint(&self.quantity);
    }
}

/// The names of the counts a weekly upload adds, after the rows' own.
const DETAILS: [&str; 6] = ["weekly_rows", "replaced", "normal", "elevated", "high", "no_forecast"];

#[derive(QueryableByName)]
struct Variance {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Double>)]
    variance_pct: Option<f64>,
}

impl Importer for WeeklyActuals {
    type Row = DayRow;
    const STAGE: Stage = STAGE;
    const SKIPPED: &'static [&'static str] = &[];

    fn domain(&self) -> &'static Domain {
        &crate::MIGRATIONS
    }

    fn validator(&self) -> Result<Validator, upload_validator::Error> {
        Validator::new(PayloadKind::WeeklyActuals, Context::of(self.context.clone()))
    }

    fn row(&self, record: Record) -> Result<Option<DayRow>, Unstorable> {
        let Record::DailyActual(day) = record else { return Ok(None) };
        let unstorable = |what| Unstorable { line: day.line, what };
        Ok(Some(DayRow {
            line: i64::try_from(day.line).map_err(|_| unstorable("line number"))?,
            quantity: i64::try_from(day.quantity_sold).map_err(|_| unstorable("quantity"))?,
            sale_date: day.date,
            store_id: day.store_id,
        }))
    }

    fn merge_postgres(&self, conn: &mut PgConnection, file: &str, staged: u64) -> import_core::Result<Merged> {
        self.merge(&mut Conn::Postgres(conn), file, staged)
    }

    fn merge_sqlite(&self, conn: &mut SqliteConnection, file: &str, staged: u64) -> import_core::Result<Merged> {
        self.merge(&mut Conn::Sqlite(conn), file, staged)
    }
}

impl WeeklyActuals {
    fn merge(&self, conn: &mut Conn<'_>, file: &str, staged: u64) -> import_core::Result<Merged> {
        let temp = conn.temp();
        let week = &self.week;
        let conflict = |rule, message| Error::Conflict { path: file.into(), rule, message };
        let too_many = conn.count(
            Prepared::new(format!(
                "SELECT count(*) AS n FROM (SELECT store_id FROM {temp}.day_stage GROUP BY store_id
HAVING sum(quantity) > 2147483647) x"
            )),
            "check the week's totals",
        )?;
        if too_many > 0 {
            return Err(conflict(
                "range",
                format!(
                    "the week's units of {too_many} stores add up to more than 2147483647, the most a weekly row holds; check the quantities"
                ),
            ));
        }
        let this_week = |sql: &str| Prepared::new(sql).text(&week.workflow_id).big_int(i64::from(week.week_number));
        let stored = conn.count(
            this_week("SELECT count(*) AS n FROM weekly_actuals WHERE workflow_id = $1 AND week_number = $2"),
            "look for the week's rows",
        )?;
        if stored > 0 {
            if !self.replace {
                return Err(conflict(
                    "week-already-uploaded",
                    format!(
                        "week {} of workflow {} ({} to {}) was uploaded before: {stored} stores have weekly actuals; upload with replace to replace the whole week",
                        week.week_number, week.workflow_id, week.week_start, week.week_end
                    ),
                ));
            }
            conn.execute(
                this_week("DELETE FROM weekly_actuals WHERE workflow_id = $1 AND week_number = $2"),
                "remove the week's earlier rows",
            )?;
        }
        let insert = this_week(&format!(
            "INSERT INTO weekly_actuals (workflow_id, week_number, week_start_date, week_end_date, store_id,
    category_id, actual_units_sold, forecast_units_sold, variance_pct)
SELECT $1, $2, $3, $4, s.store_id, $5, s.actual, f.forecast_units_sold,
    CASE WHEN f.forecast_units_sold > 0
        THEN (s.actual - f.forecast_units_sold) / CAST(f.forecast_units_sold AS FLOAT) END
FROM (SELECT store_id, sum(quantity) AS actual FROM {temp}.day_stage GROUP BY store_id) s
LEFT JOIN workflow_forecasts f ON f.workflow_id = $1 AND f.week_number = $2 AND f.store_id = s.store_id
ORDER BY s.store_id
RETURNING variance_pct"
        ))
        .date(week.week_start)
        .date(week.week_end)
        .text(&week.category_id);
        let written: Vec<Variance> = conn.load(insert, "write the week's rows")?;
        let mut classes = [0u64; 4];
        for row in &written {
            let class = Classification::of(row.variance_pct).map_or(3, |c| c as usize);
            classes[class] += 1;
        }
        let [normal, elevated, high, no_forecast] = classes;
        let values = [written.len() as u64, stored, normal, elevated, high, no_forecast];
        Ok(Merged { inserted: staged, skipped: Vec::new(), details: DETAILS.into_iter().zip(values).collect() })
    }
}

#[cfg(test)]
mod tests {
    use super::Classification;

    #[test]
    fn classes_by_magnitude_with_inclusive_bounds() {
        let class = |v| Classification::of(Some(v));
        assert_eq!(class(0.0), Some(Classification::Normal));
        assert_eq!(class(0.10), Some(Classification::Normal));
        assert_eq!(class(-0.10), Some(Classification::Normal));
        assert_eq!(class(0.1001), Some(Classification::Elevated));
        assert_eq!(class(-0.20), Some(Classification::Elevated));
        assert_eq!(class(0.2001), Some(Classification::High));
        assert_eq!(class(-1.0), Some(Classification::High));
        assert_eq!(Classification::of(None), None);
        // (110 − 100) / 100 as the database computes it is exactly the bound.
        assert_eq!(class((110.0 - 100.0) / 100.0), Some(Classification::Normal));
    }
}
