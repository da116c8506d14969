//! `demo-config-service`: seed 002's Demo Config Service. Serves client configurations at
//! `/demo/clients` and service proposals at `/demo/proposals` (port 8022 by default) on the
//! embedded SQLite file `./data/intake.db` or on `DATABASE_URL`, applying its migrations at
//! start-up. Its documents hold no secrets, so it needs no key. Everything it does is in
//! `persistent_storage::http`.

fn main() -> std::process::ExitCode {
    persistent_storage::http::main(persistent_storage::http::Service::DemoConfig)
}
