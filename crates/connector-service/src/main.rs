//! `connector-service`: seed 002's Connector Service. Serves connector profiles at
//! `/connector/profiles` (port 8023 by default) on the embedded SQLite file
//! `./data/intake.db` or on `DATABASE_URL`, applying its migrations at start-up. It needs a
//! secret key (`INTAKE_SECRET_KEY` or `--secret-key-file`) and refuses to start without one.
//! Everything it does is in `persistent_storage::http`.

fn main() -> std::process::ExitCode {
    persistent_storage::http::main(persistent_storage::http::Service::Connector)
}
