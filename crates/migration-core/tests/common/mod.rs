//! Test domains and a reader of the live schema, shared by the migration-core suites.
#![allow(dead_code, reason = "each suite uses a different part")]

use diesel::prelude::*;
use migration_core::{Backend, DbConnection, Domain, MigrationFiles, Scripts, dispatch};

const fn same(up: &'static str, down: &'static str) -> Scripts {
    Scripts { up, down, metadata: "" }
}

/// Five migrations touching tables, an index, a new column, a view and a trigger.
pub static DEMO: Domain = Domain::new("demo", DEMO_MIGRATIONS);
const DEMO_MIGRATIONS: &[MigrationFiles] = &[
    MigrationFiles {
        version: "1",
        name: "create_accounts",
        postgres: same("CREATE TABLE accounts (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL);", "DROP TABLE accounts;"),
        sqlite: same("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT NOT NULL);", "DROP TABLE accounts;"),
    },
    MigrationFiles {
        version: "2",
        name: "create_entries",
        postgres: same(
            "CREATE TABLE entries (id BIGSERIAL PRIMARY KEY, account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE RESTRICT, label TEXT);\n\
             CREATE INDEX entries_label_idx ON entries (label);",
            "DROP INDEX entries_label_idx;\nDROP TABLE entries;",
        ),
        sqlite: same(
            "CREATE TABLE entries (id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE RESTRICT, label TEXT);\n\
             CREATE INDEX entries_label_idx ON entries (label);",
            "DROP INDEX entries_label_idx;\nDROP TABLE entries;",
        ),
    },
    MigrationFiles {
        version: "3",
        name: "add_account_note",
        postgres: same("ALTER TABLE accounts ADD COLUMN note TEXT;", "ALTER TABLE accounts DROP COLUMN note;"),
        sqlite: same("ALTER TABLE accounts ADD COLUMN note TEXT;", "ALTER TABLE accounts DROP COLUMN note;"),
    },
    MigrationFiles {
        version: "4",
        name: "create_labels_view",
        postgres: same("CREATE VIEW entry_labels AS SELECT DISTINCT label FROM entries;", "DROP VIEW entry_labels;"),
        sqlite: same("CREATE VIEW entry_labels AS SELECT DISTINCT label FROM entries;", "DROP VIEW entry_labels;"),
    },
    MigrationFiles {
        version: "5",
        name: "touch_trigger",
        postgres: same(
            "CREATE FUNCTION touch_note() RETURNS trigger AS $$\nBEGIN\n  NEW.note := coalesce(NEW.note, 'touched');\n  RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql;\n\
             CREATE TRIGGER accounts_touch BEFORE UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION touch_note();",
            "DROP TRIGGER accounts_touch ON accounts;\nDROP FUNCTION touch_note();",
        ),
        sqlite: same(
            "CREATE TRIGGER accounts_touch AFTER UPDATE ON accounts FOR EACH ROW WHEN NEW.note IS NULL BEGIN\n  UPDATE accounts SET note = 'touched' WHERE id = NEW.id;\nEND;",
            "DROP TRIGGER accounts_touch;",
        ),
    },
];

/// What each DEMO migration adds to the live schema, by hand: the specification the
/// property test checks the database against.
pub const DEMO_OBJECTS: [&[&str]; 5] = [
    &["table accounts"],
    &["table entries", "index entries_label_idx"],
    &["column accounts.note"],
    &["view entry_labels"],
    &["trigger accounts_touch"],
];

/// DEMO with version 1 edited after the fact.
pub static DEMO_EDITED: Domain = Domain::new("demo", DEMO_EDITED_MIGRATIONS);
const DEMO_EDITED_MIGRATIONS: &[MigrationFiles] = &[
    MigrationFiles {
        version: "1",
        name: "create_accounts",
        postgres: same("CREATE TABLE accounts (id BIGSERIAL PRIMARY KEY, name TEXT);", "DROP TABLE accounts;"),
        sqlite: same("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT);", "DROP TABLE accounts;"),
    },
    DEMO_MIGRATIONS[1],
    DEMO_MIGRATIONS[2],
    DEMO_MIGRATIONS[3],
    DEMO_MIGRATIONS[4],
];

/// An older build of DEMO that knows only its first two migrations.
pub static DEMO_OLDER: Domain = Domain::new("demo", DEMO_OLDER_MIGRATIONS);
const DEMO_OLDER_MIGRATIONS: &[MigrationFiles] = &[DEMO_MIGRATIONS[0], DEMO_MIGRATIONS[1]];

/// A second domain, to check that `--domain` touches only its own tables.
pub static OTHER: Domain = Domain::new(
    "other",
    &[MigrationFiles {
        version: "1",
        name: "create_widgets",
        postgres: same("CREATE TABLE widgets (id BIGINT PRIMARY KEY);", "DROP TABLE widgets;"),
        sqlite: same("CREATE TABLE widgets (id INTEGER PRIMARY KEY);", "DROP TABLE widgets;"),
    }],
);

/// Its second migration fails at its second statement, after the first created a table.
pub static BROKEN: Domain = Domain::new(
    "broken",
    &[
        MigrationFiles {
            version: "1",
            name: "fine",
            postgres: same("CREATE TABLE fine (id BIGINT);", "DROP TABLE fine;"),
            sqlite: same("CREATE TABLE fine (id INTEGER);", "DROP TABLE fine;"),
        },
        MigrationFiles {
            version: "2",
            name: "fails_halfway",
            postgres: same(
                "CREATE TABLE half (id BIGINT);\n\n-- the next statement is wrong\nINSERT INTO no_such_table VALUES (1);",
                "DROP TABLE half;",
            ),
            sqlite: same(
                "CREATE TABLE half (id INTEGER);\n\n-- the next statement is wrong\nINSERT INTO no_such_table VALUES (1);",
                "DROP TABLE half;",
            ),
        },
    ],
);

/// A migration that cannot run in a transaction on PostgreSQL (`CREATE INDEX CONCURRENTLY`).
pub static NO_TRANSACTION: Domain = Domain::new(
    "no_transaction",
    &[
        MigrationFiles {
            version: "1",
            name: "create_events",
            postgres: same("CREATE TABLE events (id BIGINT, at TIMESTAMP);", "DROP TABLE events;"),
            sqlite: same("CREATE TABLE events (id INTEGER, at TIMESTAMP);", "DROP TABLE events;"),
        },
        MigrationFiles {
            version: "2",
            name: "index_events_concurrently",
            postgres: Scripts {
                up: "CREATE INDEX CONCURRENTLY events_at_idx ON events (at);",
                down: "DROP INDEX CONCURRENTLY events_at_idx;",
                metadata: "run_in_transaction = false\n",
            },
            sqlite: Scripts {
                up: "CREATE INDEX events_at_idx ON events (at);",
                down: "DROP INDEX events_at_idx;",
                metadata: "run_in_transaction = false\n",
            },
        },
    ],
);

/// The live schema as sorted "kind name" strings (tables, extra columns of `accounts`,
/// indexes, views, triggers), excluding the migration bookkeeping table.
pub fn live_schema(connection: &mut DbConnection) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Object {
        #[diesel(sql_type = diesel::sql_types::Text)]
        object: String,
    }
    let query = match connection.backend() {
        Backend::Postgres => {
            "SELECT 'table ' || tablename AS object FROM pg_tables WHERE schemaname = 'public'
             UNION ALL SELECT 'index ' || indexname FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT LIKE '%_pkey'
             UNION ALL SELECT 'view ' || viewname FROM pg_views WHERE schemaname = 'public'
             UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal
             UNION ALL SELECT 'column accounts.' || column_name FROM information_schema.columns
                 WHERE table_schema = 'public' AND table_name = 'accounts' AND column_name NOT IN ('id', 'name')"
        }
        Backend::Sqlite => {
            "SELECT type || ' ' || name AS object FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'
             UNION ALL SELECT 'column accounts.' || name FROM pragma_table_info('accounts') WHERE name NOT IN ('id', 'name')"
        }
    };
    let mut objects: Vec<String> = dispatch!(*connection, conn => diesel::sql_query(query).load::<Object>(conn))
        .expect("read the live schema")
        .into_iter()
        .map(|o| o.object)
        .filter(|o| !o.contains("intake_schema_"))
        .collect();
    objects.sort();
    objects
}

/// The schema DEMO's first `applied` migrations should leave.
pub fn expected_demo_schema(applied: usize) -> Vec<String> {
    let mut objects: Vec<String> =
        DEMO_OBJECTS[..applied].iter().flat_map(|o| o.iter().map(|s| s.to_string())).collect();
    objects.sort();
    objects
}

/// One migration with an object of every kind the snapshot reads, on both backends (the
/// PostgreSQL schema `ledger` is the table-name prefix `ledger_` on SQLite).
pub static SHOWCASE: Domain = Domain::new(
    "showcase",
    &[MigrationFiles {
        version: "1",
        name: "everything",
        postgres: same(
            "CREATE SCHEMA ledger;
             CREATE TABLE ledger.books (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, title VARCHAR(80) NOT NULL DEFAULT 'untitled', doc JSONB, UNIQUE (title));
             COMMENT ON TABLE ledger.books IS 'every book';
             COMMENT ON COLUMN ledger.books.title IS 'as printed';
             CREATE TABLE pages (book_id BIGINT NOT NULL REFERENCES ledger.books (id) ON DELETE RESTRICT ON UPDATE CASCADE, number INTEGER NOT NULL CHECK (number > 0), body TEXT, touched_at TIMESTAMP, PRIMARY KEY (book_id, number));
             CREATE INDEX pages_blank ON pages (book_id) WHERE body IS NULL;
             CREATE VIEW blank_pages AS SELECT book_id, number FROM pages WHERE body IS NULL;
             CREATE FUNCTION touch_page() RETURNS trigger AS $$ BEGIN NEW.touched_at := now(); RETURN NEW; END; $$ LANGUAGE plpgsql;
             CREATE TRIGGER pages_touch BEFORE UPDATE ON pages FOR EACH ROW EXECUTE FUNCTION touch_page();",
            "DROP TRIGGER pages_touch ON pages; DROP FUNCTION touch_page(); DROP VIEW blank_pages; DROP TABLE pages; DROP TABLE ledger.books; DROP SCHEMA ledger;",
        ),
        sqlite: same(
            "CREATE TABLE ledger_books (id INTEGER PRIMARY KEY, title VARCHAR(80) NOT NULL DEFAULT 'untitled', doc TEXT CHECK (doc IS NULL OR json_valid(doc)), UNIQUE (title));
             CREATE TABLE pages (book_id INTEGER NOT NULL REFERENCES ledger_books (id) ON DELETE RESTRICT ON UPDATE CASCADE, number INTEGER NOT NULL CHECK (number > 0), body TEXT, touched_at TIMESTAMP, PRIMARY KEY (book_id, number));
             CREATE INDEX pages_blank ON pages (book_id) WHERE body IS NULL;
             CREATE VIEW blank_pages AS SELECT book_id, number FROM pages WHERE body IS NULL;
             CREATE TRIGGER pages_touch AFTER UPDATE OF body ON pages FOR EACH ROW BEGIN UPDATE pages SET touched_at = CURRENT_TIMESTAMP WHERE book_id = NEW.book_id AND number = NEW.number; END;",
            "DROP TRIGGER pages_touch; DROP VIEW blank_pages; DROP TABLE pages; DROP TABLE ledger_books;",
        ),
    }],
);

/// Its second migration's down.sql forgets the index its up.sql made.
pub static LEAKY_DOWN: Domain = Domain::new("leaky", LEAKY_DOWN_MIGRATIONS);
const LEAKY_DOWN_MIGRATIONS: &[MigrationFiles] = &[
    DEMO_MIGRATIONS[0],
    MigrationFiles {
        version: "2",
        name: "index_names",
        postgres: same("CREATE INDEX accounts_name_idx ON accounts (name);", "SELECT 1;"),
        sqlite: same("CREATE INDEX accounts_name_idx ON accounts (name);", "SELECT 1;"),
    },
];

/// DEMO without its third migration, as a branch that has not merged it yet.
pub static DEMO_WITHOUT_3: Domain = Domain::new("demo", DEMO_WITHOUT_3_MIGRATIONS);
const DEMO_WITHOUT_3_MIGRATIONS: &[MigrationFiles] =
    &[DEMO_MIGRATIONS[0], DEMO_MIGRATIONS[1], DEMO_MIGRATIONS[3], DEMO_MIGRATIONS[4]];

/// Two branches that each added a version 2.
pub static TWO_VERSION_2: Domain = Domain::new(
    "twins",
    &[
        MigrationFiles {
            version: "2",
            name: "left",
            postgres: same("CREATE TABLE left_side (id BIGINT);", "DROP TABLE left_side;"),
            sqlite: same("CREATE TABLE left_side (id INTEGER);", "DROP TABLE left_side;"),
        },
        MigrationFiles {
            version: "2",
            name: "right",
            postgres: same("CREATE TABLE right_side (id BIGINT);", "DROP TABLE right_side;"),
            sqlite: same("CREATE TABLE right_side (id INTEGER);", "DROP TABLE right_side;"),
        },
    ],
);

/// A transactional migration holding a statement that cannot run in a transaction.
pub static CONCURRENT_IN_TRANSACTION: Domain = Domain::new("careless", CONCURRENT_IN_TRANSACTION_MIGRATIONS);
const CONCURRENT_IN_TRANSACTION_MIGRATIONS: &[MigrationFiles] = &[
    DEMO_MIGRATIONS[0],
    MigrationFiles {
        version: "2",
        name: "index_concurrently",
        postgres: same(
            "CREATE INDEX CONCURRENTLY accounts_name_idx ON accounts (name);",
            "DROP INDEX accounts_name_idx;",
        ),
        sqlite: same("CREATE INDEX accounts_name_idx ON accounts (name);", "DROP INDEX accounts_name_idx;"),
    },
];

/// Migrations that each rule of the lint must flag, after a first one that creates the tables.
pub static RISKY: Domain = Domain::new("risky", RISKY_MIGRATIONS);
const RISKY_MIGRATIONS: &[MigrationFiles] = &[
    MigrationFiles {
        version: "1",
        name: "create_tables",
        postgres: same(
            "CREATE TABLE owners (id BIGINT PRIMARY KEY, code VARCHAR(10) NOT NULL UNIQUE, size INTEGER, note TEXT);",
            "DROP TABLE owners;",
        ),
        sqlite: same(
            "CREATE TABLE owners (id INTEGER PRIMARY KEY, code VARCHAR(10) NOT NULL UNIQUE, size INTEGER, note TEXT);",
            "DROP TABLE owners;",
        ),
    },
    MigrationFiles {
        version: "2",
        name: "risky_changes",
        postgres: same(
            "CREATE TABLE pets (id BIGINT PRIMARY KEY, owner_id BIGINT REFERENCES owners (id) ON DELETE CASCADE);\n\
             CREATE INDEX owners_code ON owners (code);\n\
             ALTER TABLE owners ALTER COLUMN size TYPE BIGINT;\n\
             ALTER TABLE owners DROP COLUMN note;",
            "ALTER TABLE owners ADD COLUMN note TEXT;\nALTER TABLE owners ALTER COLUMN size TYPE INTEGER;\nDROP INDEX owners_code;\nDROP TABLE pets;",
        ),
        sqlite: same(
            "CREATE TABLE pets (id INTEGER PRIMARY KEY, owner_id INTEGER REFERENCES owners (id) ON DELETE CASCADE);\n\
             CREATE INDEX owners_code ON owners (code);\n\
             ALTER TABLE owners DROP COLUMN note;",
            "ALTER TABLE owners ADD COLUMN note TEXT;\nDROP INDEX owners_code;\nDROP TABLE pets;",
        ),
    },
];
