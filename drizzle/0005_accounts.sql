CREATE TABLE "instagram_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"instagram_id" bigint NOT NULL,
	"type" text NOT NULL,
	"message" text NOT NULL,
	"reason" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "instagrams" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"owner_id" bigint NOT NULL,
	"ig_user_id" text NOT NULL,
	"username" text NOT NULL,
	"login_type" text NOT NULL,
	"state" text DEFAULT 'start' NOT NULL,
	"state_reason" jsonb,
	"info" jsonb NOT NULL,
	"trusted" boolean DEFAULT false NOT NULL,
	"hours" jsonb NOT NULL,
	"speed" jsonb NOT NULL,
	"timezone" text DEFAULT 'UTC' NOT NULL,
	"token_key_id" text NOT NULL,
	"token_ciphertext" text NOT NULL,
	"token_expires_at" timestamp with time zone,
	"token_refreshed_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "oauth_states" (
	"id" text PRIMARY KEY NOT NULL,
	"owner_id" bigint NOT NULL,
	"login_type" text NOT NULL,
	"redirect_uri" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "posts" ALTER COLUMN "token_key_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "posts" ALTER COLUMN "token_ciphertext" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "posts" ADD COLUMN "instagram_id" bigint;--> statement-breakpoint
ALTER TABLE "instagram_events" ADD CONSTRAINT "instagram_events_instagram_id_instagrams_id_fk" FOREIGN KEY ("instagram_id") REFERENCES "public"."instagrams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "instagrams" ADD CONSTRAINT "instagrams_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "oauth_states" ADD CONSTRAINT "oauth_states_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "instagram_events_instagram_id_id_idx" ON "instagram_events" USING btree ("instagram_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "instagrams_owner_ig_user_idx" ON "instagrams" USING btree ("owner_id","ig_user_id");--> statement-breakpoint
CREATE INDEX "instagrams_token_expires_idx" ON "instagrams" USING btree ("token_expires_at");--> statement-breakpoint
CREATE INDEX "oauth_states_expires_at_idx" ON "oauth_states" USING btree ("expires_at");--> statement-breakpoint
ALTER TABLE "posts" ADD CONSTRAINT "posts_instagram_id_instagrams_id_fk" FOREIGN KEY ("instagram_id") REFERENCES "public"."instagrams"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "posts_instagram_id_idx" ON "posts" USING btree ("instagram_id","status");--> statement-breakpoint
ALTER TABLE "posts" ADD CONSTRAINT "posts_waiting_has_token" CHECK ("posts"."status" in ('published', 'failed') or "posts"."instagram_id" is not null or "posts"."token_ciphertext" is not null);