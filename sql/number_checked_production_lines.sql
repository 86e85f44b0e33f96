-- Number the rows just loaded from one JSONL file by their order of insertion (the file's line
-- order), then skip the lines the reader rejected: an accepted row sits after every rejected
-- line i (1-based, in line order) with line_i - i < its ordinal.
UPDATE checked_production
SET
    source_row = numbered.ordinal + (
        SELECT count(*)
        FROM (
            SELECT
                line,
                row_number() OVER (ORDER BY line) AS i
            FROM (SELECT DISTINCT line FROM jf_reject_errors) AS rejected_lines
        ) AS rejected
        WHERE rejected.line - rejected.i < numbered.ordinal
    )
FROM (
    SELECT
        rowid AS rid,
        rowid - min(rowid) OVER () + 1 AS ordinal
    FROM checked_production
    WHERE source_uri = $uri
) AS numbered
WHERE checked_production.rowid = numbered.rid;
