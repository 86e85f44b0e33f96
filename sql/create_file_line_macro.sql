-- jf_file_line(ordinal): the file line of the ordinal-th line the CSV reader accepted in its
-- last scan, skipping the lines it rejected (jf_reject_errors): an accepted line sits after
-- every rejected line i (1-based, in line order) with line_i - i < ordinal. Create it after
-- the scan: a macro binds its tables when it is created.
CREATE OR REPLACE TEMP MACRO jf_file_line(ordinal) AS
ordinal + (
    SELECT count(*)
    FROM (
        SELECT
            line,
            row_number() OVER (ORDER BY line) AS i
        FROM (SELECT DISTINCT line FROM jf_reject_errors) AS rejected_lines
    ) AS rejected
    WHERE rejected.line - rejected.i < ordinal  -- noqa: RF03
);
