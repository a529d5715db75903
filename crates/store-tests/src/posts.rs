//! Conformance of `PostStore`: the org's feed, paged by `_id`, read and deleted
//! within its org only.

use chrono::Duration;
use orgbase_domain::Id;
use orgbase_domain::paging::Page;
use orgbase_domain::post::Post;

use crate::{DynStore, account_in, new_org, now_ms, page_of};

fn bodies(page: &Page<Post>) -> Vec<&str> {
    page.data.iter().map(|p| p.body.as_str()).collect()
}

/// Posts read back as written, page by keyset in both directions, stay in their
/// org, and are deleted once (`false` the second time or from another org).
pub async fn posts_page_by_id_and_are_deleted_once(store: DynStore) {
    let t = now_ms();
    let org = new_org("posts", "Posts", t);
    let other = new_org("other-posts", "Other", t);
    store.insert_org(&org, None).await.unwrap();
    store.insert_org(&other, None).await.unwrap();
    let author = account_in(&store, "author@x.test", Some(&org)).await;
    let mut posts = Vec::new();
    for (i, body) in ["first", "second", "third"].iter().enumerate() {
        let post = Post::new(org.id, author.id, body, t + Duration::seconds(i as i64)).unwrap();
        store.insert_post(&post).await.unwrap();
        posts.push(post);
    }
    let elsewhere = Post::new(other.id, author.id, "elsewhere", t).unwrap();
    store.insert_post(&elsewhere).await.unwrap();

    let list = |pairs: &[(&str, String)]| {
        let (store, req) = (store.clone(), page_of(pairs, &["_id"]));
        async move { store.list_posts(org.id, &req).await.unwrap() }
    };
    let all = list(&[]).await;
    assert_eq!((all.data.clone(), all.has_more), (posts.clone(), false));
    let first = list(&[("limit", "2".into())]).await;
    assert_eq!((bodies(&first), first.has_more), (vec!["first", "second"], true));
    let next = list(&[("limit", "2".into()), ("after", posts[1].id.to_string())]).await;
    assert_eq!((bodies(&next), next.has_more), (vec!["third"], false));
    let back = list(&[("limit", "1".into()), ("before", posts[2].id.to_string())]).await;
    assert_eq!((bodies(&back), back.has_more), (vec!["second"], true));
    let newest = list(&[("sort", "-_id".into())]).await;
    assert_eq!(bodies(&newest), ["third", "second", "first"]);
    let other_page = store.list_posts(other.id, &page_of(&[], &["_id"])).await.unwrap();
    assert_eq!(other_page.data, vec![elsewhere.clone()]);

    assert_eq!(store.post_by_id(org.id, posts[0].id).await.unwrap(), Some(posts[0].clone()));
    assert_eq!(store.post_by_id(other.id, posts[0].id).await.unwrap(), None, "another org's post");
    assert_eq!(store.post_by_id(org.id, Id::from_u96(47)).await.unwrap(), None);
    assert!(!store.delete_post(other.id, posts[0].id).await.unwrap(), "not from another org");
    assert!(store.post_by_id(org.id, posts[0].id).await.unwrap().is_some());
    assert!(store.delete_post(org.id, posts[0].id).await.unwrap());
    assert!(!store.delete_post(org.id, posts[0].id).await.unwrap(), "deleted once");
    assert_eq!(store.post_by_id(org.id, posts[0].id).await.unwrap(), None);
    assert_eq!(bodies(&list(&[]).await), ["second", "third"]);
    assert_eq!(store.list_posts(other.id, &page_of(&[], &["_id"])).await.unwrap().data, vec![elsewhere]);
}
