ALTER TABLE "posts" ADD COLUMN "first_comment" text;--> statement-breakpoint
ALTER TABLE "posts" ADD COLUMN "first_comment_id" text;--> statement-breakpoint
ALTER TABLE "posts" ADD COLUMN "first_comment_attempts" integer DEFAULT 0 NOT NULL;