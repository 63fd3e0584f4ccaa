-- One owner per Instagram account. A second user's connection made before this rule is kept
-- (nothing is deleted) and marked legacy_shared, outside the new index; the oldest connection of
-- each account stays its owner.
ALTER TABLE "instagrams" ADD COLUMN "legacy_shared" boolean DEFAULT false NOT NULL;--> statement-breakpoint
UPDATE "instagrams" i SET "legacy_shared" = true
  WHERE EXISTS (SELECT 1 FROM "instagrams" o WHERE o."ig_user_id" = i."ig_user_id" AND o."id" < i."id");--> statement-breakpoint
CREATE UNIQUE INDEX "instagrams_one_owner_idx" ON "instagrams" USING btree ("ig_user_id") WHERE not legacy_shared;
