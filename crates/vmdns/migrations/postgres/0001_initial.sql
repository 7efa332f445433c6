-- vmdns schema (PostgreSQL). Times are Unix milliseconds; ids are 64-bit integers.
CREATE TABLE zones (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    provider TEXT NOT NULL,
    settings TEXT NOT NULL,          -- JSON object of the non-secret settings
    secrets TEXT NOT NULL,           -- AEAD-encrypted JSON object of the secret settings
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX zones_name ON zones (name);

CREATE TABLE pools (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    first_ip TEXT NOT NULL,
    last_ip TEXT NOT NULL,
    gateway TEXT,
    prefix_len BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE services (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    domain TEXT NOT NULL,
    ttl BIGINT NOT NULL,
    status TEXT NOT NULL,            -- active | terminated
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE service_addresses (
    service_id BIGINT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    ip TEXT NOT NULL UNIQUE,         -- canonical text form; one address belongs to one service
    ptr TEXT,
    PRIMARY KEY (service_id, position)
);

CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE, -- SHA-256 of the token; the token itself is never stored
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);

CREATE TABLE jobs (
    id BIGSERIAL PRIMARY KEY,
    service_id BIGINT NOT NULL,
    kind TEXT NOT NULL,              -- deploy | change_package | terminate | set_dns_records
    state TEXT NOT NULL,             -- queued | running | done | done_with_errors | failed | superseded
    attempts BIGINT NOT NULL DEFAULT 0,
    retry_number BIGINT NOT NULL DEFAULT 0,
    run_after BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    summary TEXT
);
CREATE INDEX jobs_due ON jobs (state, run_after);
CREATE INDEX jobs_service ON jobs (service_id, id);

CREATE TABLE job_output (
    job_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);

-- What vmdns wrote: it never deletes or overwrites a record it does not own.
CREATE TABLE ledger (
    zone_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    rtype TEXT NOT NULL,
    content TEXT NOT NULL,
    service_id BIGINT NOT NULL,
    PRIMARY KEY (zone_id, name, rtype, content, service_id)
);
CREATE INDEX ledger_service ON ledger (service_id, zone_id);

-- The last outcome of each record in each zone (the service page's status matrix).
CREATE TABLE record_status (
    service_id BIGINT NOT NULL,
    zone_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    rtype TEXT NOT NULL,
    ok BIGINT NOT NULL,
    message TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (service_id, zone_id, name, rtype)
);

CREATE TABLE module_log (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    level TEXT NOT NULL,             -- info | warn | error
    message TEXT NOT NULL,
    job_id BIGINT,
    service_id BIGINT,
    zone_id BIGINT,
    zone_name TEXT,
    provider TEXT,
    record TEXT,
    operation TEXT,
    detail TEXT
);
CREATE INDEX module_log_service ON module_log (service_id, id);
CREATE INDEX module_log_zone ON module_log (zone_id, id);

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    failed_logins BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT,
    created_at BIGINT NOT NULL
);
