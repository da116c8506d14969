//! What an upload is checked against, read from the planning tables: the known stores, the
//! categories by display name, and a workflow's week (its dates and category).

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use diesel::prelude::*;
use diesel::sql_types::{Date, Text};
use migration_core::sql::Prepared;
use migration_core::{Database, dispatch};
use upload_validator::{HistoricalSalesContext, WeeklyActualsContext};

use crate::Error;

/// One week of a workflow: `week_start = season_start + (week_number − 1) weeks`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Week {
    /// The workflow.
    pub workflow_id: String,
    /// 1-based week of its season.
    pub week_number: u32,
    /// Its first day.
    pub week_start: NaiveDate,
    /// Its last day (`week_start + 6`).
    pub week_end: NaiveDate,
    /// The workflow's category: every weekly row of the week is of it.
    pub category_id: String,
}

#[derive(QueryableByName)]
struct WorkflowRow {
    #[diesel(sql_type = Text)]
    category_id: String,
    #[diesel(sql_type = Date)]
    season_start: NaiveDate,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = Text)]
    id: String,
}

#[derive(QueryableByName)]
struct CategoryRow {
    #[diesel(sql_type = Text)]
    category_id: String,
    #[diesel(sql_type = Text)]
    category_name: String,
}

impl Week {
    /// Week `week_number` of workflow `workflow_id`; fails when the workflow does not exist or
    /// the week is not one of it (weeks count from 1).
    pub fn load(db: &Database, workflow_id: &str, week_number: u32) -> Result<Week, Error> {
        let query =
            Prepared::new("SELECT category_id, season_start FROM workflows WHERE workflow_id = $1").text(workflow_id);
        let mut connection = db.get()?;
        let rows: Vec<WorkflowRow> = dispatch!(connection, conn => query.load(conn))
            .map_err(|source| Error::query("read the workflow", source))?;
        let Some(workflow) = rows.into_iter().next() else {
            return Err(Error::UnknownWorkflow(workflow_id.to_owned()));
        };
        let week_start = week_number
            .checked_sub(1)
            .and_then(|weeks| workflow.season_start.checked_add_days(Days::new(7 * u64::from(weeks))))
            .filter(|start| start.checked_add_days(Days::new(6)).is_some())
            .ok_or_else(|| Error::BadWeek { workflow_id: workflow_id.to_owned(), week_number })?;
        Ok(Week {
            workflow_id: workflow_id.to_owned(),
            week_number,
            week_start,
            week_end: week_start + Days::new(6),
            category_id: workflow.category_id,
        })
    }

    /// The validator's context for the week's file: its first day and the known stores.
    pub fn context(&self, db: &Database) -> Result<WeeklyActualsContext, Error> {
        Ok(WeeklyActualsContext { week_start: self.week_start, store_ids: store_ids(db)? })
    }
}

/// Every store id, sorted; an error when there is none (nothing could be uploaded).
pub fn store_ids(db: &Database) -> Result<Vec<String>, Error> {
    let query = Prepared::new("SELECT store_id AS id FROM stores ORDER BY store_id");
    let mut connection = db.get()?;
    let rows: Vec<Id> =
        dispatch!(connection, conn => query.load(conn)).map_err(|source| Error::query("read the store ids", source))?;
    if rows.is_empty() {
        return Err(Error::NoStores);
    }
    Ok(rows.into_iter().map(|row| row.id).collect())
}

/// The validator's context for historical sales: the known stores, and each category's
/// display name mapped to its id.
pub fn historical_sales_context(db: &Database) -> Result<HistoricalSalesContext, Error> {
    let query = Prepared::new("SELECT category_id, category_name FROM categories ORDER BY category_id");
    let mut connection = db.get()?;
    let rows: Vec<CategoryRow> = dispatch!(connection, conn => query.load(conn))
        .map_err(|source| Error::query("read the categories", source))?;
    drop(connection);
    if rows.is_empty() {
        return Err(Error::NoCategories);
    }
    let categories: BTreeMap<String, String> = rows.into_iter().map(|r| (r.category_name, r.category_id)).collect();
    Ok(HistoricalSalesContext { store_ids: store_ids(db)?, categories })
}
