ALTER TABLE "posts" ADD COLUMN "placement" text DEFAULT 'feed' NOT NULL;--> statement-breakpoint
ALTER TABLE "posts" ADD COLUMN "alt_text" text;--> statement-breakpoint
ALTER TABLE "posts" ADD COLUMN "collaborators" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "posts" ADD COLUMN "cover_url" text;--> statement-breakpoint
ALTER TABLE "posts" ADD COLUMN "share_to_feed" boolean;--> statement-breakpoint
ALTER TABLE "posts" ADD COLUMN "audio_name" text;--> statement-breakpoint
ALTER TABLE "posts" ADD COLUMN "trial_reel" text;