-- Remember parsed outputs (never lm_error ones) from the registered relation staged_cache.
INSERT INTO prediction_cache (
    cache_key, program_hash, lm_identity, content_hash, status, rating, explanation,
    error_kind, raw, reasoning, samples, spread, usage_info
)
SELECT
    cache_key,
    program_hash,
    lm_identity,
    content_hash,
    status,
    rating,
    explanation,
    error_kind,
    raw,
    reasoning,
    samples::JSON AS samples,
    spread,
    usage_info::JSON AS usage_info
FROM staged_cache
ON CONFLICT (cache_key) DO NOTHING;
