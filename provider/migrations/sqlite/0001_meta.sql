-- Facts about the store itself. `created_at` is written once, when the store is first opened.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;
