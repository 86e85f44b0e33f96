-- Store one expectation's outcome for one ingest attempt.
INSERT INTO validation_results (
    ingest_run_id, week, source, expectation, success, element_count, unexpected_count, details
)
VALUES (
    $run_id, $week, $source, $expectation, $success, $element_count, $unexpected_count, $details
);
