-- Turn the ordinals of accepted lines into file line numbers by skipping the rejected lines:
-- an accepted row sits after every rejected line i (1-based, in line order) with line_i - i < row.
UPDATE staged_raw
SET
    source_row = staged_raw.source_row + (
        SELECT count(*)
        FROM (
            SELECT
                line,
                row_number() OVER (ORDER BY line) AS i
            FROM (SELECT DISTINCT line FROM jf_reject_errors) AS rejected_lines
        ) AS rejected
        WHERE rejected.line - rejected.i < staged_raw.source_row
    )
WHERE staged_raw.source_uri = $uri AND staged_raw.read_error IS NULL;
