//! The org's feed: `GET`/`POST /{org}/v2/orgs/{id}/posts` for members, and `DELETE
//! /orgs/{id}/posts/{post}` for the author or an administrator.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use orgbase_domain::Id;
use orgbase_domain::access::{Operation, Target};
use orgbase_domain::post::Post;
use serde::Deserialize;

use crate::context::OrgCtx;
use crate::extract::{ApiJson, Paging};
use crate::fault::Fault;
use crate::responses::{DoneResponse, ListResponse, PostResponse, json};
use crate::state::AppState;

/// The body of a new post.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePostRequest {
    /// 1 to 10,000 characters once trimmed, without U+0000.
    #[schema(schema_with = post_body)]
    pub body: String,
}

fn post_body() -> utoipa::openapi::Object {
    crate::openapi::fields::post_body()
}

/// Lists the feed, newest last (`sort=-_id` for newest first).
#[utoipa::path(get, path = "/{org}/v2/orgs/{id}/posts", tag = "posts",
    params(("org" = String, Path), ("id" = String, Path), ("limit" = Option<u32>, Query),
           ("startingAfter" = Option<String>, Query), ("endingBefore" = Option<String>, Query), ("sort" = Option<String>, Query)),
    responses((status = 200, body = ListResponse<PostResponse>), (status = 403, body = Fault)))]
pub async fn list_posts(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
    Paging(params): Paging,
) -> Result<Response, Fault> {
    ctx.check_org_id(&id)?;
    ctx.authorize(Target::Post { own: false }, Operation::Read, "the posts")?;
    let req = params.validate(&["_id"]).map_err(Fault::validation)?;
    let page = state.store.list_posts(ctx.org.id, &req).await?;
    Ok(ListResponse::of(&page, PostResponse::from).into_response())
}

/// Posts to the feed.
#[utoipa::path(post, path = "/{org}/v2/orgs/{id}/posts", tag = "posts", request_body = CreatePostRequest,
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = PostResponse), (status = 400, body = Fault), (status = 403, body = Fault)))]
pub async fn create_post(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<CreatePostRequest>,
) -> Result<Response, Fault> {
    ctx.check_org_id(&id)?;
    ctx.authorize(Target::Post { own: true }, Operation::Create, "posts")?;
    let author = ctx.caller.account()?.id;
    let post = Post::new(ctx.org.id, author, &body.body, state.clock.now())?;
    state.store.insert_post(&post).await?;
    Ok(json(PostResponse::from(&post)))
}

/// Deletes a post: its author or an administrator.
#[utoipa::path(delete, path = "/{org}/v2/orgs/{id}/posts/{post}", tag = "posts",
    params(("org" = String, Path), ("id" = String, Path), ("post" = String, Path)),
    responses((status = 200, body = DoneResponse), (status = 403, body = Fault), (status = 404, body = Fault)))]
pub async fn delete_post(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id, post)): Path<(String, String, String)>,
) -> Result<Response, Fault> {
    ctx.check_org_id(&id)?;
    let post_id = Id::parse(&post).ok_or_else(|| Fault::not_found("Post"))?;
    ctx.authorize(Target::Post { own: false }, Operation::Read, "the posts")?;
    let post = state.store.post_by_id(ctx.org.id, post_id).await?.ok_or_else(|| Fault::not_found("Post"))?;
    let own = ctx.caller.account_id() == Some(post.creator);
    ctx.authorize(Target::Post { own }, Operation::Delete, "this post")?;
    if !state.store.delete_post(ctx.org.id, post_id).await? {
        return Err(Fault::not_found("Post"));
    }
    Ok(DoneResponse::done().into_response())
}
