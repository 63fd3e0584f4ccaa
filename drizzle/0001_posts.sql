CREATE TABLE "post_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"post_id" bigint NOT NULL,
	"type" text NOT NULL,
	"message" text NOT NULL,
	"date_pub" timestamp with time zone,
	"error" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "post_user_tags" (
	"post_id" bigint NOT NULL,
	"position" integer NOT NULL,
	"username" text NOT NULL,
	"x" double precision,
	"y" double precision,
	CONSTRAINT "post_user_tags_post_id_position_pk" PRIMARY KEY("post_id","position")
);
--> statement-breakpoint
CREATE TABLE "posts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"owner_id" bigint NOT NULL,
	"ig_user_id" text NOT NULL,
	"content_type" text NOT NULL,
	"url" text NOT NULL,
	"caption" text,
	"location_id" text,
	"thumb_offset" integer,
	"token_key_id" text NOT NULL,
	"token_ciphertext" text NOT NULL,
	"date_pub" timestamp with time zone NOT NULL,
	"status" text DEFAULT 'scheduled' NOT NULL,
	"creation_id" text,
	"media_id" text,
	"permalink" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" jsonb,
	"published_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "post_events" ADD CONSTRAINT "post_events_post_id_posts_id_fk" FOREIGN KEY ("post_id") REFERENCES "public"."posts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "post_user_tags" ADD CONSTRAINT "post_user_tags_post_id_posts_id_fk" FOREIGN KEY ("post_id") REFERENCES "public"."posts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "posts" ADD CONSTRAINT "posts_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "post_events_post_id_id_idx" ON "post_events" USING btree ("post_id","id");--> statement-breakpoint
CREATE INDEX "posts_owner_id_id_idx" ON "posts" USING btree ("owner_id","id");--> statement-breakpoint
CREATE INDEX "posts_ig_user_id_date_pub_idx" ON "posts" USING btree ("ig_user_id","date_pub");--> statement-breakpoint
CREATE INDEX "posts_status_date_pub_idx" ON "posts" USING btree ("status","date_pub");