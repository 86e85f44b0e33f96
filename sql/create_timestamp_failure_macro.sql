-- The timestamp checks every source shares, as a macro: a field's text that did not parse
-- (bad_timestamp), then a parsed value outside [week_start, week_end) (wrong_week; NULL bounds
-- skip it), as {'code', 'message'}, or NULL. Both checked-row statements end with it.
CREATE OR REPLACE TEMP MACRO jf_timestamp_failure(
    field_name, stamp_text, stamp, week_start, week_end, week
) AS
CASE
    WHEN stamp_text IS NOT NULL AND stamp IS NULL
        THEN
            {
                'code': 'bad_timestamp',
                'message': format('{} {} is not a timestamp', field_name, stamp_text)
            }
    WHEN stamp < week_start OR stamp >= week_end
        THEN
            {
                'code': 'wrong_week',
                'message': format('{} {} is outside week {}', field_name, stamp_text, week)
            }
END;
