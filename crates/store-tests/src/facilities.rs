//! Conformance of `FacilityStore` beyond what `lib.rs` covers: changes read back,
//! and every read, change and delete stays inside its org.

use chrono::Duration;
use orgbase_domain::facility::{FACILITY_SORT_FIELDS, Facility, PlaceChanges, Room};
use orgbase_domain::{Id, StoreError};

use crate::{DynStore, new_org, now_ms, page_of};

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
