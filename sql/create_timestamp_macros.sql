-- The timestamp macros every source shares.
--
-- jf_timestamp(stamp_text, zone): a field's text as a wall-clock TIMESTAMP in the zone. A
-- text whose time of day ends in a zone (Z, an offset of hours and optional minutes, or a
-- name such as UTC or America/New_York) is converted to the zone; a text without one is
-- wall-clock time already. A date alone ('2026-11-18') has no zone: '-18' is no offset.
-- NULL when the text is not a timestamp (jf_timestamp_failure then says bad_timestamp).
-- Types are lower case here because sqlfluff reads the macro's arguments as types.
CREATE OR REPLACE TEMP MACRO jf_timestamp(stamp_text, zone) AS
CASE
    WHEN
        regexp_matches(
            stamp_text,
            '\d:\d\d(:\d\d(\.\d+)?)?(\s*(Z|[+-]\d\d(:?\d\d)?)|\s+[A-Za-z][A-Za-z0-9_/+-]*)$'
        )
        THEN timezone(zone, try_cast(stamp_text AS timestamptz))
    ELSE try_cast(stamp_text AS timestamp)
END;

-- jf_timestamp_failure(...): a field's text that did not parse (bad_timestamp), then a parsed
-- value outside [week_start, week_end) (wrong_week; NULL bounds skip it), as {'code',
-- 'message'}, or NULL. Both checked-row statements end with it.
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
