-- Forget the previous scan's reject bookkeeping.
DROP TABLE IF EXISTS jf_reject_scans;
