-- Forget the previous scan's rejected lines.
DROP TABLE IF EXISTS jf_reject_errors;
