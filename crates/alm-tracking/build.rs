//! Embeds `migrations/alm_tracking/` so new migration files rebuild this crate.

fn main() {
    migration_embed::embed("alm_tracking");
}
