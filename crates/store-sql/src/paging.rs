//! Keyset paging over `(sort column, id)`, pushed onto a query builder. A page costs
//! the same at the start of a list and deep inside it; `skip` is the only offset.
//! `domain::paging` validates the request; the SQL for it is here.

use orgbase_domain::paging::PageRequest;
use sqlx::QueryBuilder;

use crate::dialect::Dialect;

/// The column behind a sortable API field.
pub fn sort_column(field: &str) -> &'static str {
    match field {
        "code" => "code",
        "name" => "name",
        "created" => "created",
        "scheduledStart" => "scheduled_start",
        _ => "id",
    }
}

/// The direction to read rows in: against the requested order for `endingBefore`.
pub fn direction(req: &PageRequest) -> &'static str {
    if req.descending() { "DESC" } else { "ASC" }
}

/// The comparison that selects rows past the cursor, in reading direction.
pub fn comparison(req: &PageRequest) -> &'static str {
    if req.descending() { "<" } else { ">" }
}

/// Appends keyset paging over `(column, id)` to a query that already has a WHERE.
pub fn push_keyset<DB: Dialect>(q: &mut QueryBuilder<'_, DB>, table: &str, req: &PageRequest) {
    let column = sort_column(req.sort.field);
    if let Some(id) = req.cursor_id() {
        q.push(format_args!(" AND ({column}, id) {} (SELECT {column}, id FROM {table} WHERE id = ", comparison(req)));
        DB::bind_text(q, id.to_string());
        q.push(")");
    }
    let dir = direction(req);
    q.push(format_args!(" ORDER BY {column} {dir}, id {dir}"));
    push_limit(q, req);
}

/// Appends `LIMIT` (one row more than the page, to tell whether more follow) and
/// `OFFSET`.
pub fn push_limit<DB: Dialect>(q: &mut QueryBuilder<'_, DB>, req: &PageRequest) {
    q.push(" LIMIT ");
    DB::bind_int(q, i64::from(req.limit) + 1);
    q.push(" OFFSET ");
    DB::bind_int(q, i64::from(req.skip));
}

#[cfg(test)]
mod tests {
    use orgbase_domain::Id;
    use orgbase_domain::paging::PageParams;
    use sqlx::Sqlite;

    use super::*;

    fn request(sort: &str, ending_before: Option<Id>) -> PageRequest {
        let params = PageParams {
            sort: Some(sort.to_owned()),
            ending_before: ending_before.map(|id| id.to_string()),
            ..PageParams::default()
        };
        params.validate(&["_id", "code"]).unwrap()
    }

    #[test]
    fn defaults_read_ascending() {
        let req = request("", None);
        assert_eq!(direction(&req), "ASC");
    }

    #[test]
    fn ending_before_a_descending_sort_reads_ascending_past_the_cursor() {
        let req = request("-code", Some(Id::from_u96(9)));
        assert_eq!(direction(&req), "ASC");
        assert_eq!(comparison(&req), ">");
    }

    #[test]
    fn the_keyset_orders_by_the_column_then_id() {
        let req = request("-code", None);
        let mut q = QueryBuilder::<Sqlite>::new("SELECT id FROM orgs WHERE 1 = 1");
        push_keyset(&mut q, "orgs", &req);
        assert_eq!(q.sql(), "SELECT id FROM orgs WHERE 1 = 1 ORDER BY code DESC, id DESC LIMIT ? OFFSET ?");
    }
}
