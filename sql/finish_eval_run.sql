-- Record an evaluation run's counts, metrics and final status.
UPDATE eval_runs SET
    n_ok = $n_ok,
    n_parse_errors = $n_parse_errors,
    n_lm_errors = $n_lm_errors,
    calls = $calls,
    cache_hits = $cache_hits,
    prompt_tokens = $prompt_tokens,
    completion_tokens = $completion_tokens,
    cost = $cost,
    seconds = $seconds,
    metrics = $metrics,
    status = $status,
    error = $error,
    finished_at = now()
WHERE run_id = $run_id;
