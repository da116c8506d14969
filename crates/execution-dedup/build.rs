//! Embeds `migrations/execution_dedup/` so new migration files rebuild this crate.

fn main() {
    migration_embed::embed("execution_dedup");
}
