DROP TABLE alert_logs;
DROP TABLE alert_rules;
DROP TABLE market_data;
DROP TABLE instruments;
