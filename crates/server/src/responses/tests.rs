//! Each response type serialises to the very bytes the API has always sent: the
//! keys in sorted order (the order of a JSON object built with `json!`), the same
//! names, the same shapes.

use chrono::{DateTime, TimeZone, Utc};
use orgbase_domain::Id;
use orgbase_domain::account::{Account, Member, MemberEntry, PersonName};
use orgbase_domain::connection::Connection;
use orgbase_domain::email::Email;
use orgbase_domain::facility::{Facility, Room};
use orgbase_domain::live_session::{LiveSession, NewSession};
use orgbase_domain::post::Post;
use serde::Serialize;
use serde_json::{Value, json};

use super::*;

fn now() -> DateTime<Utc> {
    Utc.timestamp_millis_opt(1_764_164_054_569).unwrap()
}

const NOW: &str = "2025-11-26T13:34:14.569Z";

/// `body` serialises to exactly the bytes of `expected` (a `json!` object, whose
/// keys sort).
fn same_bytes(body: impl Serialize, expected: Value) {
    assert_eq!(serde_json::to_string(&body).unwrap(), expected.to_string());
}

fn account() -> Account {
    let name = PersonName { first: "Ada".into(), last: "Lovelace".into() };
    Account::new(Email::parse("email", "ada@x.test").unwrap(), name, Some("$argon2id$secret".into()), now())
}

#[test]
fn an_account_shows_no_password_hash() {
    let a = account();
    let expected = json!({"_id": a.id, "object": "account", "email": "ada@x.test",
        "name": {"first": "Ada", "last": "Lovelace"}, "verified": false, "created": NOW});
    same_bytes(AccountResponse::from(&a), expected.clone());
    let mut with_token = expected;
    with_token["token"] = json!("t0k3n");
    same_bytes(LoginResponse::new(&a, Some("t0k3n")), with_token);
    assert!(!serde_json::to_string(&LoginResponse::new(&a, None)).unwrap().contains("token"));
}

#[test]
fn a_listed_member_shows_its_account_email_and_name_and_nothing_else_of_it() {
    let a = account();
    let member = Member::new(Id::from_u96(1), a.id, vec![Id::from_u96(5)], now());
    let mut expected = json!({"_id": member.id, "object": "member", "org": member.org, "account": a.id,
        "roles": ["000000000000000000000005"], "state": "active", "created": NOW, "updated": NOW});
    same_bytes(MemberResponse::from(&member), expected.clone());
    expected["email"] = json!("ada@x.test");
    expected["name"] = json!({"first": "Ada", "last": "Lovelace"});
    let entry = MemberEntry::new(member.clone(), &a);
    same_bytes(MemberResponse::from(&entry), expected);
    assert!(!serde_json::to_string(&MemberResponse::from(&entry)).unwrap().contains("argon2"));
    let me = serde_json::to_value(MeResponse::new(&a, Some(&member), orgbase_domain::level::Level::Read)).unwrap();
    assert_eq!((me["access"].clone(), me["roles"].clone()), (json!(4), json!(["000000000000000000000005"])));
    assert_eq!(me["member"]["_id"], json!(member.id));
}

#[test]
fn a_connection_shows_no_token() {
    let email = Email::parse("email", "bob@x.test").unwrap();
    let (c, token) = Connection::new(Id::from_u96(1), email, None, vec![Id::from_u96(5)], None, now(), now());
    let expected = json!({"_id": c.id, "object": "connection", "org": c.org, "email": "bob@x.test", "name": null,
        "roles": ["000000000000000000000005"], "state": 0, "expiresAt": NOW, "creator": null, "account": null,
        "created": NOW, "updated": NOW});
    same_bytes(ConnectionResponse::from(&c), expected);
    assert!(!serde_json::to_string(&ConnectionResponse::from(&c)).unwrap().contains(&token));
}

#[test]
fn places_and_posts_keep_their_shapes() {
    let f = Facility::new(Id::from_u96(1), "St John's", Some(false), now()).unwrap();
    same_bytes(
        FacilityResponse::from(&f),
        json!({"_id": f.id, "object": "facility", "org": f.org, "name": "St John's", "isRemovable": false,
            "created": NOW, "updated": NOW}),
    );
    let r = Room::new(&f, "Theatre 3", None, now()).unwrap();
    same_bytes(
        RoomResponse::from(&r),
        json!({"_id": r.id, "object": "room", "facility": f.id, "name": "Theatre 3", "isRemovable": true,
            "created": NOW, "updated": NOW}),
    );
    let p = Post::new(Id::from_u96(1), Id::from_u96(2), "Hello", now()).unwrap();
    same_bytes(
        PostResponse::from(&p),
        json!({"_id": p.id, "object": "post", "org": p.org, "creator": p.creator, "body": "Hello", "created": NOW}),
    );
}

#[test]
fn a_session_shows_its_media_url_and_its_owner_first() {
    let new = NewSession {
        name: "Knee".into(),
        session_type: "SURGERY".into(),
        speciality: None,
        estimated_duration: Some("PT2H".into()),
        access: None,
        scheduled_start: None,
    };
    let s = LiveSession::create(new, Id::from_u96(1), Id::from_u96(2), (None, None), now()).unwrap();
    let p = &s.participants[0];
    let permissions = json!({"canEditSession": true, "canInviteParticipants": true, "canCloseVideoFeed": true,
        "canEndSession": true, "canClearAllDrawings": true, "canRecordSession": true});
    let participant = json!({"_id": p.id, "object": "participant", "session": s.id, "account": s.owner,
        "org": s.org, "owner": true, "permissions": permissions, "created": NOW, "updated": NOW});
    same_bytes(ParticipantResponse::new(p, true), participant.clone());
    let expected = json!({"_id": s.id, "object": "session", "org": s.org, "owner": s.owner, "name": "Knee",
        "type": "SURGERY", "speciality": null, "estimatedDuration": "PT2H", "access": "PRIVATE", "facility": null,
        "room": null, "scheduledStart": NOW, "state": "scheduled", "started": null, "ended": null,
        "mediaURL": format!("https://media.example/sessions/{}", s.id), "participants": [participant],
        "created": NOW, "updated": NOW});
    same_bytes(SessionResponse::new(&s, "https://media.example/"), expected);
}

#[test]
fn envelopes_keep_their_shapes() {
    same_bytes(DoneResponse::done(), json!({"object": "result", "data": true}));
    same_bytes(ListResponse::all(vec![1, 2]), json!({"object": "list", "data": [1, 2], "hasMore": false}));
    same_bytes(PropertyResponse::from(json!([1])), json!({"object": "list", "data": [1], "hasMore": false}));
    same_bytes(PropertyResponse::from(json!("x")), json!({"object": "result", "data": "x"}));
}

#[test]
fn an_app_is_the_orgs_apps_entry_with_its_object_and_the_secret_only_when_asked() {
    let app = orgbase_domain::app::App::new(Id::from_u96(9), "web".into(), vec!["https://a.example".into()], now());
    let mut expected = app.to_json();
    expected["object"] = json!("app");
    same_bytes(AppResponse::from(&app), expected.clone());
    expected["secret"] = json!(app.secret);
    same_bytes(AppResponse::with_secret(&app), expected);
    let rotated = app.rotated(now(), chrono::Duration::hours(24));
    let mut expected = rotated.to_json();
    expected["object"] = json!("app");
    same_bytes(AppResponse::from(&rotated), expected);
}
