//! Embeds `migrations/persistent_storage/` so new migration files rebuild this crate.

fn main() {
    migration_embed::embed("persistent_storage");
}
