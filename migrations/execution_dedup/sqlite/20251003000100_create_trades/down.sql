DROP INDEX idx_trades_account_executed_at;
DROP TABLE trades;
