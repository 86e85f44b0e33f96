-- Evaluation runs, their predictions, and the prediction cache (program x LM x example content).
CREATE TABLE eval_runs (
    run_id VARCHAR PRIMARY KEY,
    label VARCHAR,
    program_hash VARCHAR NOT NULL,
    lm_identity VARCHAR NOT NULL,
    split VARCHAR,
    week VARCHAR,
    scale VARCHAR NOT NULL,
    n_examples BIGINT NOT NULL,
    n_ok BIGINT,
    n_parse_errors BIGINT,
    n_lm_errors BIGINT,
    calls BIGINT,
    cache_hits BIGINT,
    prompt_tokens BIGINT,
    completion_tokens BIGINT,
    cost DOUBLE,
    seconds DOUBLE,
    metrics JSON,
    status VARCHAR NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    error VARCHAR,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ
);

CREATE TABLE predictions (
    run_id VARCHAR NOT NULL,
    example_id VARCHAR NOT NULL,
    program_hash VARCHAR NOT NULL,
    lm_identity VARCHAR NOT NULL,
    split VARCHAR,
    week VARCHAR,
    gold INTEGER,
    status VARCHAR NOT NULL CHECK (status IN ('ok', 'parse_error', 'lm_error')),
    rating INTEGER,
    explanation VARCHAR,
    error_kind VARCHAR,
    raw VARCHAR,
    reasoning VARCHAR,
    samples JSON,
    spread DOUBLE,
    latency_s DOUBLE,
    calls INTEGER NOT NULL,
    prompt_tokens BIGINT,
    completion_tokens BIGINT,
    cost DOUBLE,
    cached BOOLEAN NOT NULL,
    cache_key VARCHAR NOT NULL,
    PRIMARY KEY (run_id, example_id)
);

CREATE INDEX predictions_program ON predictions (program_hash, split, week);

CREATE TABLE prediction_cache (
    cache_key VARCHAR PRIMARY KEY,
    program_hash VARCHAR NOT NULL,
    lm_identity VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL,
    status VARCHAR NOT NULL CHECK (status IN ('ok', 'parse_error')),
    rating INTEGER,
    explanation VARCHAR,
    error_kind VARCHAR,
    raw VARCHAR,
    reasoning VARCHAR,
    samples JSON,
    spread DOUBLE,
    usage_info JSON,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
