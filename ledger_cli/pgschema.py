"""The tables of a set of books on PostgreSQL, created by the first write, and the checks
`verify` makes that the database still enforces what it was given.

`events` holds each event's canonical line verbatim (`line`) beside the columns the
database checks it by: seq is the primary key, (seq - 1, prev, prev_ts) a foreign key to
(seq, hash, ts) so that the chain has no gap and no fork and (with a CHECK that prev_ts <= ts)
ts never decreases, a CHECK recomputes the SHA-256 of the line, another that the columns are
the line's own (one jsonb parse of it), unique id, key and reversal target, and triggers that
refuse UPDATE, DELETE and TRUNCATE. Every check on an insert is declarative, none a PL/pgSQL
trigger per row: measured by COPY, 100k rows take the server about 1.7 s with them all and
0.45 s with only the primary key; the chain's foreign key is the costliest (see CHAIN). `head` is the one row
writers lock (SELECT … FOR UPDATE): so commit order is seq order. `meta` names the store and
the time zone of its books.
"""

from __future__ import annotations

import re

from ledger_cli.errors import InvalidValue

SCHEMA_VERSION = 1
DEFAULT_SCHEMA = "ledger"
_IDENT = re.compile(r"[a-z_][a-z0-9_$]{0,62}")

# The triggers and the named constraints verify expects to find, enabled.
TRIGGERS = ("events_append_only", "events_no_truncate")
CONSTRAINTS = (
    "events_pkey", "events_seq_hash", "events_id", "events_chain", "events_first", "events_seq_positive",
    "events_ts_order", "events_hash_suffix", "events_hash", "events_columns",
)  # fmt: skip


# The chain's foreign key. A store created by the transaction that fills it (`ledger copy` or an
# import into a new store) adds it after the rows are in: one join checks them all, where a
# check per row costs more than all the other checks together (and nobody sees the table before
# COMMIT, so nothing waits on the ALTER TABLE).
CHAIN = "FOREIGN KEY (prev_seq, prev, prev_ts) REFERENCES {s}.events (seq, hash, ts)"


def chain_later(s: str) -> tuple[str, str]:
    """The statements that take the chain's foreign key off a new, still empty table and put
    it back once it is filled."""
    return (
        f"ALTER TABLE {s}.events DROP CONSTRAINT events_chain",
        f"ALTER TABLE {s}.events ADD CONSTRAINT events_chain {CHAIN.format(s=s)}",
    )


def ident(schema: str) -> str:
    """The schema's name as SQL (a plain lower-case identifier, so no quoting is ever needed)."""
    if not _IDENT.fullmatch(schema):
        raise InvalidValue(
            f"the PostgreSQL schema {schema!r} is not a plain lower-case identifier (letters, digits, '_'): "
            "name another in the URI's search_path"
        )
    return schema


def ddl(s: str, zone: str) -> str:
    """Everything a new set of books needs, in schema `s` (run in one transaction)."""
    zone_sql = "'" + zone.replace("'", "''") + "'"
    return f"""
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE {s}.meta (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  schema_version int NOT NULL,
  store_id text NOT NULL,
  zone text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO {s}.meta (schema_version, store_id, zone) VALUES ({SCHEMA_VERSION}, gen_random_uuid()::text, {zone_sql});
CREATE TYPE {s}.line_columns AS (seq bigint, id uuid, ts text, key text, target bigint, prev text);
CREATE TABLE {s}.events (
  seq bigint NOT NULL,
  line text NOT NULL,
  id uuid NOT NULL,
  ts text NOT NULL,
  key text,
  target bigint,
  prev text NOT NULL,
  hash text NOT NULL,
  prev_seq bigint GENERATED ALWAYS AS (NULLIF(seq - 1, 0)) STORED,
  prev_ts text,
  CONSTRAINT events_pkey PRIMARY KEY (seq),
  CONSTRAINT events_seq_positive CHECK (seq >= 1),
  CONSTRAINT events_seq_hash UNIQUE (seq, hash, ts),
  CONSTRAINT events_id UNIQUE (id),
  CONSTRAINT events_first CHECK (seq > 1 OR prev = repeat('0', 64)),
  CONSTRAINT events_chain {CHAIN.format(s=s)},
  CONSTRAINT events_ts_order CHECK (CASE WHEN seq = 1 THEN prev_ts IS NULL
    ELSE prev_ts IS NOT NULL AND prev_ts <= ts COLLATE "C" END),
  CONSTRAINT events_hash_suffix CHECK (right(line, 75) = ',"hash":"' || hash || '"}}'),
  CONSTRAINT events_hash CHECK (hash = encode(sha256(convert_to(left(line, -75) || '}}', 'UTF8')), 'hex')),
  CONSTRAINT events_columns CHECK (ROW(seq, id, ts, key, target, prev)::{s}.line_columns
    IS NOT DISTINCT FROM jsonb_populate_record(NULL::{s}.line_columns, line::jsonb)));
CREATE UNIQUE INDEX events_key ON {s}.events (key) WHERE key IS NOT NULL;
CREATE UNIQUE INDEX events_target ON {s}.events (target) WHERE target IS NOT NULL;
CREATE FUNCTION {s}.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger events are append-only (% refused)', TG_OP USING ERRCODE = '42501';
END $$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON {s}.events
  FOR EACH ROW EXECUTE FUNCTION {s}.refuse();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON {s}.events
  FOR EACH STATEMENT EXECUTE FUNCTION {s}.refuse();
CREATE TABLE {s}.head (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  seq bigint NOT NULL,
  hash text NOT NULL,
  ts text);
INSERT INTO {s}.head (seq, hash, ts) VALUES (0, repeat('0', 64), NULL);
"""


def problems_sql(s: str) -> str:
    """A query of (kind, name, enabled) for the triggers and constraints on s.events."""
    return f"""
SELECT 'trigger', tgname, tgenabled <> 'D' FROM pg_trigger
 WHERE tgrelid = '{s}.events'::regclass AND NOT tgisinternal
UNION ALL
SELECT 'constraint', conname, convalidated FROM pg_constraint WHERE conrelid = '{s}.events'::regclass
"""


def missing(found: list[tuple[str, str, bool]]) -> list[str]:
    """What verify says of the triggers and constraints found (problems_sql's rows)."""
    have = {(kind, name): enabled for kind, name, enabled in found}
    said = []
    for name in TRIGGERS:
        if ("trigger", name) not in have:
            said.append(f"the trigger {name} on events is missing")
        elif not have[("trigger", name)]:
            said.append(f"the trigger {name} on events is disabled")
    for name in CONSTRAINTS:
        if ("constraint", name) not in have:
            said.append(f"the constraint {name} on events is missing")
        elif not have[("constraint", name)]:
            said.append(f"the constraint {name} on events is not validated")
    return said
