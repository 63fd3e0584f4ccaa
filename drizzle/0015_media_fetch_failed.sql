-- The post failure "a media URL did not answer right before the container" was stored as
-- MEDIA_UNREACHABLE, the code of the 400 refusal at create/update (6210); it is now
-- MEDIA_FETCH_FAILED (1240), so one code has one number.
UPDATE "posts" SET "last_error" = jsonb_set("last_error", '{code}', '"MEDIA_FETCH_FAILED"')
  WHERE "last_error"->>'code' = 'MEDIA_UNREACHABLE';
--> statement-breakpoint
UPDATE "post_events" SET "error" = jsonb_set("error", '{code}', '"MEDIA_FETCH_FAILED"')
  WHERE "error"->>'code' = 'MEDIA_UNREACHABLE';
