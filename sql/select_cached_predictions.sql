-- Cached outputs for the given cache keys.
SELECT
    c.cache_key,
    c.status,
    c.rating,
    c.explanation,
    c.error_kind,
    c.raw,
    c.reasoning,
    c.samples,
    c.spread
FROM prediction_cache AS c
WHERE c.cache_key IN (SELECT unnest($cache_keys));
