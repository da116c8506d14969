DROP TABLE trades;
DROP TABLE imported_executions;
