CREATE TABLE "post_children" (
	"post_id" bigint NOT NULL,
	"position" integer NOT NULL,
	"content_type" text NOT NULL,
	"url" text NOT NULL,
	"alt_text" text,
	"user_tags" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"creation_id" text,
	"container_created_at" timestamp with time zone,
	CONSTRAINT "post_children_post_id_position_pk" PRIMARY KEY("post_id","position")
);
--> statement-breakpoint
ALTER TABLE "posts" ALTER COLUMN "url" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "post_children" ADD CONSTRAINT "post_children_post_id_posts_id_fk" FOREIGN KEY ("post_id") REFERENCES "public"."posts"("id") ON DELETE cascade ON UPDATE no action;