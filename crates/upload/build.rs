//! Embeds `migrations/upload/` so new migration files rebuild this crate.

fn main() {
    migration_embed::embed("upload");
}
