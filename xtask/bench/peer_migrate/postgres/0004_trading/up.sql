-- Revision 0004 of the Alembic peer: execution de-duplication and trades.
CREATE TABLE imported_executions (
    id               SERIAL PRIMARY KEY,
    execution_id     VARCHAR(255) NOT NULL UNIQUE,
    csv_filename     VARCHAR(255) NOT NULL,
    import_timestamp TIMESTAMP DEFAULT now(),
    account          VARCHAR(50),
    instrument       VARCHAR(50)
);
CREATE INDEX idx_imported_executions_execution_id ON imported_executions (execution_id);
CREATE INDEX idx_imported_executions_csv_filename ON imported_executions (csv_filename);
CREATE INDEX idx_imported_executions_import_timestamp ON imported_executions (import_timestamp);
CREATE TABLE trades (
    id                 SERIAL PRIMARY KEY,
    account            VARCHAR(50) NOT NULL,
    instrument         VARCHAR(50) NOT NULL,
    side_of_market     VARCHAR(10) NOT NULL,
    quantity           INTEGER NOT NULL,
    entry_price        DOUBLE PRECISION NOT NULL,
    entry_time         TIMESTAMP NOT NULL,
    exit_price         DOUBLE PRECISION,
    exit_time          TIMESTAMP,
    points_gain_loss   DOUBLE PRECISION,
    dollars_gain_loss  DOUBLE PRECISION,
    commission         DOUBLE PRECISION DEFAULT '0',
    entry_execution_id VARCHAR(255),
    notes              TEXT,
    created_at         TIMESTAMP DEFAULT now()
);
CREATE INDEX idx_trades_account_entry_time ON trades (account, entry_time);
CREATE INDEX idx_trades_instrument ON trades (instrument);
