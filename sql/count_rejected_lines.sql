-- How many distinct lines the last CSV-reader scan rejected.
SELECT count(DISTINCT line) AS rejected FROM jf_reject_errors;
