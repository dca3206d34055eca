-- The mdm store: one DuckDB file. Schema version 9.
CREATE TABLE IF NOT EXISTS meta (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

-- One row per reconciliation run.
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY,
    kind VARCHAR NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    rules_fingerprint VARCHAR,
    model_id VARCHAR,
    link_threshold DOUBLE,
    review_threshold DOUBLE,
    report JSON
);

-- Source records: standardised values, derived keys, extras and the raw record.
CREATE TABLE IF NOT EXISTS records (
    source VARCHAR NOT NULL,
    record_id VARCHAR NOT NULL,
    first_name VARCHAR,
    middle_name VARCHAR,
    last_name VARCHAR,
    full_name VARCHAR,
    date_of_birth VARCHAR,
    gender VARCHAR,
    national_id VARCHAR,
    email VARCHAR,
    phone VARCHAR,
    address_line VARCHAR,
    city VARCHAR,
    postcode VARCHAR,
    region VARCHAR,
    country VARCHAR,
    name_suffix VARCHAR,
    updated_at VARCHAR,
    first_name_phonetic VARCHAR,
    middle_name_phonetic VARCHAR,
    last_name_phonetic VARCHAR,
    first_name_variants VARCHAR[],
    middle_name_variants VARCHAR[],
    first_initial VARCHAR,
    dob_year VARCHAR,
    dob_month_day VARCHAR,
    postcode_district VARCHAR,
    email_local VARCHAR,
    email_name_like BOOLEAN,
    phone_last7 VARCHAR,
    extra JSON,
    raw JSON,
    version INTEGER NOT NULL DEFAULT 1,
    run_id INTEGER,
    ingested_at TIMESTAMP,
    PRIMARY KEY (source, record_id)
);

-- Golden records: one per person. A retired id points at its survivor.
CREATE TABLE IF NOT EXISTS golden (
    golden_id VARCHAR PRIMARY KEY,
    status VARCHAR NOT NULL,          -- active | retired
    survivor_id VARCHAR,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    record_count INTEGER NOT NULL,
    first_name VARCHAR,
    middle_name VARCHAR,
    last_name VARCHAR,
    full_name VARCHAR,
    date_of_birth VARCHAR,
    gender VARCHAR,
    national_id VARCHAR,
    email VARCHAR,
    phone VARCHAR,
    address_line VARCHAR,
    city VARCHAR,
    postcode VARCHAR,
    region VARCHAR,
    country VARCHAR,
    extra JSON
);

-- Which source record supplied each golden value, and by which rule.
-- One row per (golden_id, attribute), by construction; no index, so bulk writes stay fast.
CREATE TABLE IF NOT EXISTS lineage (
    golden_id VARCHAR NOT NULL,
    attribute VARCHAR NOT NULL,
    value VARCHAR,
    source VARCHAR NOT NULL,
    record_id VARCHAR NOT NULL,
    rule VARCHAR NOT NULL
);

-- Cross-reference: every source record to its golden record.
CREATE TABLE IF NOT EXISTS xref (
    source VARCHAR NOT NULL,
    record_id VARCHAR NOT NULL,
    golden_id VARCHAR NOT NULL,
    run_id INTEGER,
    PRIMARY KEY (source, record_id)
);

-- Scored pairs at or above the review threshold (evidence for links and tasks).
CREATE TABLE IF NOT EXISTS pairs (
    source_l VARCHAR NOT NULL,
    record_id_l VARCHAR NOT NULL,
    source_r VARCHAR NOT NULL,
    record_id_r VARCHAR NOT NULL,
    match_weight DOUBLE NOT NULL,
    match_probability DOUBLE NOT NULL,
    run_id INTEGER
);

-- Pairs in the review band, for a steward to decide.
CREATE TABLE IF NOT EXISTS review_tasks (
    task_id BIGINT PRIMARY KEY,
    source_l VARCHAR NOT NULL,
    record_id_l VARCHAR NOT NULL,
    source_r VARCHAR NOT NULL,
    record_id_r VARCHAR NOT NULL,
    golden_id_l VARCHAR,
    golden_id_r VARCHAR,
    match_weight DOUBLE NOT NULL,
    match_probability DOUBLE NOT NULL,
    status VARCHAR NOT NULL,          -- open | decided
    created_at TIMESTAMP NOT NULL,
    run_id INTEGER,
    -- What match_weight/match_probability scored: 'records' (the two source records) or
    -- 'customers' (a value one record lacks taken from its golden record; mdm.linkage.customers).
    scored_on VARCHAR DEFAULT 'records'
);

-- Trained models: splink settings with m and u, tied to the rules they came from.
CREATE TABLE IF NOT EXISTS models (
    model_id VARCHAR PRIMARY KEY,
    rules_fingerprint VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    model JSON NOT NULL
);

-- Append-only log of state changes. Holds ids, never customer values.
CREATE TABLE IF NOT EXISTS events (
    event_id BIGINT PRIMARY KEY,
    occurred_at TIMESTAMP NOT NULL,
    kind VARCHAR NOT NULL,
    golden_id VARCHAR,
    source VARCHAR,
    record_id VARCHAR,
    actor VARCHAR NOT NULL,
    detail JSON
);

-- What a golden record's history says beyond ids: for an event that changed its values
-- (golden_changed, override_set, override_cleared) each attribute's value before and
-- after; for a steward's merge, unmerge or override, the note they gave (attribute
-- 'reason', in new_value). Unlike events these are customer values: an erasure deletes
-- them with the person (mdm.store.events.erase_event_values).
CREATE TABLE IF NOT EXISTS event_values (
    event_id BIGINT NOT NULL,
    golden_id VARCHAR NOT NULL,
    attribute VARCHAR NOT NULL,
    old_value VARCHAR,
    new_value VARCHAR
);

-- Tombstones: the records erased, as hashes of (source, record_id) (no values), so a
-- restore from a backup taken before an erasure erases them again. Also kept beside
-- the store in <store>.erasures, which a restore reads when the store it replaces is gone.
CREATE TABLE IF NOT EXISTS erasures (
    key_hash VARCHAR PRIMARY KEY,
    erased_at TIMESTAMP NOT NULL
);

-- What ingest found per source and run: counts, date order, unparseable values.
CREATE TABLE IF NOT EXISTS source_reports (
    run_id INTEGER NOT NULL,
    source VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    records INTEGER NOT NULL,
    report JSON NOT NULL
);

-- Name variants: seeded from reference_names/, grown by evidence and stewards.
-- A pair is (name, variant) with name the canonical form; status proposed | active | rejected.
CREATE TABLE IF NOT EXISTS name_variants (
    name VARCHAR NOT NULL,
    variant VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,            -- nickname | spelling | transliteration
    origin VARCHAR NOT NULL,          -- seed | learned | steward
    reference VARCHAR,                -- where a seed pair came from (package)
    evidence INTEGER NOT NULL,        -- confirmations for, minus decisions against
    status VARCHAR NOT NULL,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL,
    PRIMARY KEY (name, variant)
);

-- Every change to a name pair: what, when, by whom or by which evidence.
CREATE TABLE IF NOT EXISTS name_variant_events (
    event_id BIGINT PRIMARY KEY,
    occurred_at TIMESTAMP NOT NULL,
    name VARCHAR NOT NULL,
    variant VARCHAR NOT NULL,
    action VARCHAR NOT NULL,          -- seeded | proposed | approved | rejected | confirmed
    actor VARCHAR NOT NULL,
    detail JSON
);

-- How often each first and last name occurs in the store's records (updated by ingest).
CREATE TABLE IF NOT EXISTS name_frequencies (
    kind VARCHAR NOT NULL,            -- first | last
    name VARCHAR NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (kind, name)
);

-- Which people (golden ids) confirmed a name pair: independent confirmations, so a
-- re-run over the same records never counts twice.
CREATE TABLE IF NOT EXISTS name_variant_evidence (
    name VARCHAR NOT NULL,
    variant VARCHAR NOT NULL,
    golden_id VARCHAR NOT NULL,
    run_id INTEGER,
    PRIMARY KEY (name, variant, golden_id)
);

-- Steward decisions on pairs of source records: data, not flags (who, what, when).
-- "same" and "different" are labels for training and constraints for clustering.
CREATE TABLE IF NOT EXISTS decisions (
    decision_id BIGINT PRIMARY KEY,
    task_id BIGINT,
    source_l VARCHAR NOT NULL,
    record_id_l VARCHAR NOT NULL,
    source_r VARCHAR NOT NULL,
    record_id_r VARCHAR NOT NULL,
    decision VARCHAR NOT NULL,        -- same | different | skip
    actor VARCHAR NOT NULL,
    decided_at TIMESTAMP NOT NULL,
    note VARCHAR
);

-- Decisions that two records with different first names are not the same person:
-- each counts against the name pair (evidence = people confirming - disputes).
CREATE TABLE IF NOT EXISTS name_variant_disputes (
    name VARCHAR NOT NULL,
    variant VARCHAR NOT NULL,
    decision_id BIGINT NOT NULL,
    PRIMARY KEY (name, variant, decision_id)
);

-- Steward overrides: a golden value set by hand, which wins over survivorship until cleared.
CREATE TABLE IF NOT EXISTS golden_overrides (
    golden_id VARCHAR NOT NULL,
    attribute VARCHAR NOT NULL,
    value VARCHAR NOT NULL,
    set_by VARCHAR NOT NULL,
    set_at TIMESTAMP NOT NULL,
    reason VARCHAR,
    PRIMARY KEY (golden_id, attribute)
);

-- Steward constraints on pairs of source records (left < right): "must" link them into
-- one golden record, or "cannot" (never in one). They outrank every score, in bulk runs
-- and in real time; the latest decision on a pair replaces an earlier one.
CREATE TABLE IF NOT EXISTS link_constraints (
    source_l VARCHAR NOT NULL,
    record_id_l VARCHAR NOT NULL,
    source_r VARCHAR NOT NULL,
    record_id_r VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,            -- must | cannot
    origin VARCHAR NOT NULL,          -- merge | unmerge | decision
    set_by VARCHAR NOT NULL,
    set_at TIMESTAMP NOT NULL,
    reason VARCHAR,
    PRIMARY KEY (source_l, record_id_l, source_r, record_id_r)
);

-- People who sign in to the steward pages: stewards decide, viewers read.
-- Passwords are kept as salted scrypt hashes, never in clear.
CREATE TABLE IF NOT EXISTS users (
    username VARCHAR PRIMARY KEY,
    password_hash VARCHAR NOT NULL,
    role VARCHAR NOT NULL,            -- steward | viewer
    created_at TIMESTAMP NOT NULL
);

-- A review task a steward has taken, so that two stewards do not decide the same one.
CREATE TABLE IF NOT EXISTS task_claims (
    task_id BIGINT PRIMARY KEY,
    claimed_by VARCHAR NOT NULL,
    claimed_at TIMESTAMP NOT NULL
);

-- Keys that may call the service's API, each with a role (mdm.keys). Only a hash of
-- the key is kept; revoked keys stay, for the record.
CREATE TABLE IF NOT EXISTS api_keys (
    key_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    role VARCHAR NOT NULL,            -- etl | operational | steward | admin
    key_hash VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    created_by VARCHAR NOT NULL,
    revoked_at TIMESTAMP,
    revoked_by VARCHAR,
    expires_at TIMESTAMP,             -- refused from then on (NULL: never)
    last_used_at TIMESTAMP            -- to within mdm.keys.LAST_USED_RESOLUTION
);
