//! Diesel's view of the ledger, for the purge (the import's statements are SQL built from
//! its stage declaration).

diesel::table! {
    /// Every execution id ever imported (seed 004).
    imported_executions (id) {
        id -> BigInt,
        execution_id -> Varchar,
        csv_filename -> Varchar,
        import_timestamp -> Timestamp,
        account -> Nullable<Varchar>,
        instrument -> Nullable<Varchar>,
    }
}
