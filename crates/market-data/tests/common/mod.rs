//! The data the market data tests share.

use test_support::TestDatabase;

/// Instruments, rules, ticks (the DECIMAL(12,4) edges among them) and alert logs.
pub fn populate(db: &TestDatabase) {
    let prices =
        ["21012.2500", "99999999.9999", "-99999999.9999", "0.0001", "-0.0001", "0.0000", "12345678.1234", "1.0500"];
    let mut sql = String::from(
        "INSERT INTO instruments (id, symbol, name) VALUES (1, 'ES', 'E-mini S&P'), (2, 'NQ', 'E-mini Nasdaq'), (3, 'CL', 'Crude');
         INSERT INTO alert_rules (id, name, instrument_id, condition, threshold) VALUES (1, 'ES above', 1, 'above', 5000.2500), (2, 'NQ below', 2, 'below', 17000.1000);\n",
    );
    for i in 0..400 {
        let p = prices[i % prices.len()];
        let bid = if i % 3 == 0 { "NULL".to_owned() } else { format!("{:.4}", 100.0 + i as f64 / 10_000.0) };
        sql.push_str(&format!(
            "INSERT INTO market_data (instrument_id, \"timestamp\", price, bid, volume) VALUES ({}, '2025-09-01 10:{:02}:{:02}', {p}, {bid}, {i});\n",
            1 + i % 3,
            i / 60,
            i % 60
        ));
    }
    for i in 0..50 {
        sql.push_str(&format!(
            "INSERT INTO alert_logs (rule_id, instrument_id, \"timestamp\", trigger_value, threshold_value, status) VALUES ({}, {}, '2025-09-01 11:00:{i:02}', 5000.{i:04}, 5000.2500, 'triggered');\n",
            1 + i % 2,
            1 + i % 2
        ));
    }
    db.database().get().unwrap().batch_execute(&sql).unwrap();
}
