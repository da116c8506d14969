//! Diesel's view of the tables the import writes.

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

diesel::table! {
    /// The fills themselves.
    trades (id) {
        id -> BigInt,
        execution_id -> Nullable<Varchar>,
        account -> Varchar,
        instrument -> Varchar,
        action -> Varchar,
        quantity -> BigInt,
        price_e8 -> BigInt,
        executed_at -> Timestamp,
        entry_exit -> Varchar,
        position -> Varchar,
        order_id -> Nullable<Varchar>,
        name -> Varchar,
        commission_e8 -> BigInt,
        rate_e8 -> BigInt,
        connection -> Varchar,
        trade_validation -> Nullable<Varchar>,
    }
}

diesel::table! {
    /// The connection's own temporary table one file's valid fills are loaded into before
    /// they are merged (see `import`); created per import, never migrated.
    execution_stage (line) {
        line -> BigInt,
        execution_id -> Varchar,
        account -> Varchar,
        instrument -> Varchar,
        action -> Varchar,
        quantity -> BigInt,
        price_e8 -> BigInt,
        executed_at -> Timestamp,
        entry_exit -> Varchar,
        position -> Varchar,
        order_id -> Nullable<Varchar>,
        name -> Varchar,
        commission_e8 -> BigInt,
        rate_e8 -> BigInt,
        connection -> Varchar,
        trade_validation -> Nullable<Varchar>,
    }
}
