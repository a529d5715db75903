//! Conformance of `FacilityStore` beyond what `lib.rs` covers: changes read back,
//! every read, change and delete stays inside its org, and a delete racing a
//! session that takes the place lets exactly one win.

use chrono::Duration;
use orgbase_domain::facility::{FACILITY_SORT_FIELDS, Facility, PlaceChanges, Room};
use orgbase_domain::{Id, StoreError};

use crate::{DynStore, account_in, conflict, new_org, new_session, now_ms, page_of};

/// A changed facility or room reads back with its new name, flag and time, and
/// only the fields given change; another org's id is not found for a change or a
/// delete, lists nothing and changes nothing; a deleted room is gone once.
pub async fn places_change_and_go_only_in_their_org(store: DynStore) {
    let t = now_ms();
    let org = new_org("places-own", "Places", t);
    let other = new_org("places-other", "Other", t);
    store.insert_org(&org, None).await.unwrap();
    store.insert_org(&other, None).await.unwrap();
    let site = Facility::new(org.id, "Site", None, t).unwrap();
    store.insert_facility(&site).await.unwrap();
    let room = Room::new(&site, "Room", None, t).unwrap();
    let spare = Room::new(&site, "Spare", None, t + Duration::seconds(1)).unwrap();
    store.insert_room(&room).await.unwrap();
    store.insert_room(&spare).await.unwrap();
    assert_eq!(store.room(org.id, room.id).await.unwrap(), Some(room.clone()));

    let later = t + Duration::minutes(1);
    let rename = PlaceChanges { name: Some("Main site".into()), is_removable: None };
    let renamed = store.update_facility(org.id, site.id, &rename, later).await.unwrap();
    let expected = Facility { name: "Main site".into(), updated: later, ..site.clone() };
    assert_eq!(renamed, expected);
    assert_eq!(store.facility(org.id, site.id).await.unwrap(), Some(expected.clone()));
    let lock = PlaceChanges { name: None, is_removable: Some(false) };
    let locked = store.update_room(org.id, room.id, &lock, later).await.unwrap();
    let expected_room = Room { is_removable: false, updated: later, ..room.clone() };
    assert_eq!(locked, expected_room);
    assert_eq!(store.room(org.id, room.id).await.unwrap(), Some(expected_room.clone()));

    let theft = PlaceChanges { name: Some("Stolen".into()), is_removable: Some(true) };
    let refused = store.update_facility(other.id, site.id, &theft, later).await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    let refused = store.update_room(other.id, room.id, &theft, later).await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    let refused = store.update_room(org.id, Id::from_u96(48), &theft, later).await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    assert!(matches!(store.delete_facility(other.id, site.id).await, Err(StoreError::NotFound)));
    assert!(matches!(store.delete_facility(org.id, Id::from_u96(49)).await, Err(StoreError::NotFound)));
    assert!(matches!(store.delete_room(other.id, spare.id).await, Err(StoreError::NotFound)));
    assert_eq!(store.room(other.id, room.id).await.unwrap(), None);
    let all = page_of(&[], FACILITY_SORT_FIELDS);
    assert!(store.list_rooms(other.id, site.id, &all).await.unwrap().data.is_empty(), "another org's facility");
    assert_eq!(store.facility(org.id, site.id).await.unwrap(), Some(expected), "refusals change nothing");
    assert_eq!(store.room(org.id, room.id).await.unwrap(), Some(expected_room.clone()));

    store.delete_room(org.id, spare.id).await.unwrap();
    assert!(matches!(store.delete_room(org.id, spare.id).await, Err(StoreError::NotFound)), "gone once");
    assert_eq!(store.room(org.id, spare.id).await.unwrap(), None);
    assert_eq!(store.list_rooms(org.id, site.id, &all).await.unwrap().data, vec![expected_room]);
}

/// A room's or facility's delete racing the insert of a session that takes it:
/// exactly one wins. Either the place is gone and the session refused
/// (`NotFound`), or the session holds the place and the delete is refused
/// (`Conflict`).
pub async fn a_place_racing_a_session_that_takes_it_is_kept_or_refused(store: DynStore) {
    let t = now_ms();
    let org = new_org("places-race", "Places Race", t);
    store.insert_org(&org, None).await.unwrap();
    let alice = account_in(&store, "alice@x.test", Some(&org)).await;
    for round in 0..10 {
        let site = Facility::new(org.id, &format!("Site {round}"), None, t).unwrap();
        store.insert_facility(&site).await.unwrap();
        let room = Room::new(&site, "Theatre", None, t).unwrap();
        store.insert_room(&room).await.unwrap();
        let mut session = new_session(&org, &alice, "Taking it", t);
        (session.facility, session.room) = (Some(site.id), Some(room.id));
        let whole = round % 2 == 1;
        let delete = async {
            if whole { store.delete_facility(org.id, site.id).await } else { store.delete_room(org.id, room.id).await }
        };
        let (inserted, deleted) = tokio::join!(store.insert_live_session(&session), delete);
        assert_eq!(
            u8::from(inserted.is_ok()) + u8::from(deleted.is_ok()),
            1,
            "round {round}: {inserted:?} {deleted:?}"
        );
        let stored = store.live_session(session.id).await.unwrap();
        let room_left = store.room(org.id, room.id).await.unwrap();
        if inserted.is_ok() {
            assert!(conflict(deleted), "round {round}");
            assert_eq!(stored.map(|s| (s.facility, s.room)), Some((Some(site.id), Some(room.id))), "round {round}");
            assert!(room_left.is_some(), "round {round}: the room in use is kept");
        } else {
            assert!(matches!(inserted, Err(StoreError::NotFound)), "round {round}: {inserted:?}");
            assert_eq!(stored, None, "round {round}");
            assert_eq!(room_left, None, "round {round}");
            assert_eq!(store.facility(org.id, site.id).await.unwrap().is_some(), !whole, "round {round}");
        }
    }
}
