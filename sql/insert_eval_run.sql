-- Open an evaluation run in status 'running'; finish_eval_run fills in the results.
INSERT INTO eval_runs (
    run_id, label, program_hash, lm_identity, split, week, scale, n_examples, status
)
VALUES (
    $run_id, $label, $program_hash, $lm_identity, $split, $week, $scale, $n_examples, 'running'
);
