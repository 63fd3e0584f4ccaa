CREATE TABLE "channel_actions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"channel_id" bigint NOT NULL,
	"instagram_id" bigint NOT NULL,
	"action" text NOT NULL,
	"comment_id" text NOT NULL,
	"media_id" text,
	"from_id" text,
	"username" text,
	"message" text,
	"commented_at" timestamp with time zone NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"result_id" text,
	"error" jsonb,
	"attempts" integer DEFAULT 0 NOT NULL,
	"slot_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "channels" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"owner_id" bigint NOT NULL,
	"instagram_id" bigint NOT NULL,
	"action" text NOT NULL,
	"target" text DEFAULT 'comments' NOT NULL,
	"value" text DEFAULT '' NOT NULL,
	"comments" jsonb NOT NULL,
	"state" text DEFAULT 'start' NOT NULL,
	"acting_since" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "instagram_comments" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"ig_user_id" text NOT NULL,
	"comment_id" text NOT NULL,
	"media_id" text,
	"parent_id" text,
	"from_id" text,
	"username" text,
	"text" text NOT NULL,
	"own" boolean NOT NULL,
	"commented_at" timestamp with time zone NOT NULL,
	"source" text NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"processed_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "instagrams" ADD COLUMN "webhooks_subscribed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "instagrams" ADD COLUMN "comment_poll" jsonb;--> statement-breakpoint
ALTER TABLE "channel_actions" ADD CONSTRAINT "channel_actions_channel_id_channels_id_fk" FOREIGN KEY ("channel_id") REFERENCES "public"."channels"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "channel_actions" ADD CONSTRAINT "channel_actions_instagram_id_instagrams_id_fk" FOREIGN KEY ("instagram_id") REFERENCES "public"."instagrams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "channels" ADD CONSTRAINT "channels_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "channels" ADD CONSTRAINT "channels_instagram_id_instagrams_id_fk" FOREIGN KEY ("instagram_id") REFERENCES "public"."instagrams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "channel_actions_channel_comment_idx" ON "channel_actions" USING btree ("channel_id","comment_id");--> statement-breakpoint
CREATE INDEX "channel_actions_channel_id_id_idx" ON "channel_actions" USING btree ("channel_id","id");--> statement-breakpoint
CREATE INDEX "channel_actions_budget_idx" ON "channel_actions" USING btree ("instagram_id","action","slot_at");--> statement-breakpoint
CREATE INDEX "channels_instagram_id_idx" ON "channels" USING btree ("instagram_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "instagram_comments_ig_user_comment_idx" ON "instagram_comments" USING btree ("ig_user_id","comment_id");--> statement-breakpoint
CREATE INDEX "instagram_comments_unprocessed_idx" ON "instagram_comments" USING btree ("id") WHERE processed_at is null;--> statement-breakpoint
CREATE INDEX "instagram_comments_received_at_idx" ON "instagram_comments" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "instagrams_ig_user_id_idx" ON "instagrams" USING btree ("ig_user_id");