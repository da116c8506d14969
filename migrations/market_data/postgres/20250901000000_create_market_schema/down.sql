DROP TABLE alert_logs;
DROP TABLE market_data;
DROP TABLE alert_rules;
DROP TABLE instruments;
