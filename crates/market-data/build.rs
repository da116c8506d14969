//! Embeds `migrations/market_data/` so new migration files rebuild this crate.

fn main() {
    migration_embed::embed("market_data");
}
