-- Store one evaluation run's predictions from the registered relation staged_predictions.
INSERT INTO predictions (
    run_id, example_id, program_hash, lm_identity, split, week, gold, status, rating,
    explanation, error_kind, raw, reasoning, samples, spread, latency_s, calls,
    prompt_tokens, completion_tokens, cost, cached, cache_key
)
SELECT
    run_id,
    example_id,
    program_hash,
    lm_identity,
    split,
    week,
    gold,
    status,
    rating,
    explanation,
    error_kind,
    raw,
    reasoning,
    samples::JSON AS samples,
    spread,
    latency_s,
    calls,
    prompt_tokens,
    completion_tokens,
    cost,
    cached,
    cache_key
FROM staged_predictions;
