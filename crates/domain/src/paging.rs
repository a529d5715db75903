//! Paging: `limit`, `skip`, the keyset cursors `startingAfter` / `endingBefore` and
//! `sort`, shared by every list. Stores page by keyset on `(sort field, _id)`, so a
//! page costs the same at the start of a list and deep inside it.

use crate::{FieldError, Id};

/// The default page size.
pub const DEFAULT_LIMIT: u32 = 20;
/// The largest page size.
pub const MAX_LIMIT: u32 = 1000;

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cursor {
    /// The page holds the items after this one.
    After(Id),
    /// The page holds the items before this one.
    Before(Id),
}

/// The order of a list: a field the resource allows, ascending or descending. Ties
/// are broken by `_id` in the same direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sort {
    /// The field, one of the resource's sortable fields.
    pub field: &'static str,
    /// Descending when true.
    pub descending: bool,
}

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageRequest {
    /// Items per page, 1..=1000.
    pub limit: u32,
    /// Items to skip after the cursor (prefer cursors for deep pages).
    pub skip: u32,
    /// The keyset cursor.
    pub cursor: Option<Cursor>,
    /// The order.
    pub sort: Sort,
}

/// The raw paging parameters of a request, before validation.
#[derive(Debug, Clone, Default)]
pub struct PageParams {
    /// `limit`.
    pub limit: Option<String>,
    /// `skip`.
    pub skip: Option<String>,
    /// `startingAfter`.
    pub starting_after: Option<String>,
    /// `endingBefore`.
    pub ending_before: Option<String>,
    /// `sort`: a field name, `-` for descending.
    pub sort: Option<String>,
}

impl PageParams {
    /// Validates the parameters against the resource's sortable fields (the first is
    /// the default). Every problem is reported at once.
    pub fn validate(&self, sortable: &[&'static str]) -> Result<PageRequest, Vec<FieldError>> {
        let mut faults = Vec::new();
        let limit = match self.limit.as_deref() {
            None => DEFAULT_LIMIT,
            Some(s) => match s.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    faults.push(FieldError::new("limit", format!("limit is a number from 1 to {MAX_LIMIT}.")));
                    DEFAULT_LIMIT
                }
            },
        };
        let skip = match self.skip.as_deref() {
            None => 0,
            Some(s) => s.parse::<u32>().unwrap_or_else(|_| {
                faults.push(FieldError::new("skip", "skip is a number of 0 or more."));
                0
            }),
        };
        let mut cursor_of = |name: &str, value: Option<&str>| {
            value.and_then(|s| {
                let id = Id::parse(s);
                if id.is_none() {
                    faults.push(FieldError::new(name, format!("{name} is an _id.")));
                }
                id
            })
        };
        let after = cursor_of("startingAfter", self.starting_after.as_deref());
        let before = cursor_of("endingBefore", self.ending_before.as_deref());
        let cursor = match (after, before) {
            (Some(_), Some(_)) => {
                faults.push(FieldError::new("endingBefore", "Use startingAfter or endingBefore, not both."));
                None
            }
            (Some(a), None) => Some(Cursor::After(a)),
            (None, Some(b)) => Some(Cursor::Before(b)),
            (None, None) => None,
        };
        let default = sortable.first().copied().unwrap_or("_id");
        let sort = match self.sort.as_deref() {
            None | Some("") => Sort { field: default, descending: false },
            Some(s) => {
                let (descending, name) = match s.strip_prefix('-') {
                    Some(rest) => (true, rest),
                    None => (false, s.strip_prefix('+').unwrap_or(s)),
                };
                match sortable.iter().find(|f| **f == name) {
                    Some(field) => Sort { field, descending },
                    None => {
                        faults.push(FieldError::new(
                            "sort",
                            format!("sort is one of: {}, with an optional '-'.", sortable.join(", ")),
                        ));
                        Sort { field: default, descending: false }
                    }
                }
            }
        };
        if faults.is_empty() { Ok(PageRequest { limit, skip, cursor, sort }) } else { Err(faults) }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items, in the requested order.
    pub data: Vec<T>,
    /// More items follow in the direction of travel.
    pub has_more: bool,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows fetched in the direction of travel:
    /// the extra row only says that more exist. For `endingBefore` the rows were
    /// fetched backwards and are put back in order.
    pub fn from_rows(mut rows: Vec<T>, req: &PageRequest) -> Self {
        let limit = req.limit as usize;
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        if matches!(req.cursor, Some(Cursor::Before(_))) {
            rows.reverse();
        }
        Self { data: rows, has_more }
    }

    /// Maps the items.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { data: self.data.into_iter().map(f).collect(), has_more: self.has_more }
    }
}

impl PageRequest {
    /// True when rows are read against the requested order (for `endingBefore`).
    pub fn backwards(&self) -> bool {
        matches!(self.cursor, Some(Cursor::Before(_)))
    }

    /// True when rows are read in descending order of the sort field: a descending
    /// sort read forwards, or an ascending one read backwards.
    pub fn descending(&self) -> bool {
        self.sort.descending != self.backwards()
    }

    /// The cursor's id, if any.
    pub fn cursor_id(&self) -> Option<Id> {
        match self.cursor {
            Some(Cursor::After(id) | Cursor::Before(id)) => Some(id),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> PageParams {
        let get = |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
        PageParams {
            limit: get("limit"),
            skip: get("skip"),
            starting_after: get("startingAfter"),
            ending_before: get("endingBefore"),
            sort: get("sort"),
        }
    }

    #[test]
    fn defaults_are_twenty_by_the_first_sortable_field() {
        let req = params(&[]).validate(&["_id", "code"]).unwrap();
        assert_eq!(req.limit, 20);
        assert_eq!(req.sort, Sort { field: "_id", descending: false });
        assert!(!req.descending());
    }

    #[test]
    fn bad_parameters_are_all_reported() {
        let faults = params(&[("limit", "0"), ("skip", "-1"), ("startingAfter", "x"), ("sort", "secret")])
            .validate(&["_id"])
            .unwrap_err();
        let paths: Vec<_> = faults.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["limit", "skip", "startingAfter", "sort"]);
        assert!(params(&[("limit", "1001")]).validate(&["_id"]).is_err());
    }

    #[test]
    fn ending_before_reads_backwards_and_restores_order() {
        let id = Id::from_u96(9);
        let req = params(&[("endingBefore", &id.to_string()), ("sort", "-code"), ("limit", "2")])
            .validate(&["_id", "code"])
            .unwrap();
        assert!(req.backwards());
        assert!(!req.descending());
        let page = Page::from_rows(vec![1, 2, 3], &req);
        assert_eq!(page, Page { data: vec![2, 1], has_more: true });
    }
}
