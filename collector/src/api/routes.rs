//! Every route the collector serves, with the access it needs when security is on.

/// An HTTP method a route answers (HEAD is answered wherever GET is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// GET (and HEAD).
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// DELETE.
    Delete,
}

impl Verb {
    /// The method's name as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Delete => "DELETE",
        }
    }
}

/// Who may call a route once the web config asks for credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Any authenticated client: the route only reads.
    Read,
    /// Only the web config's `admin_users` (when it names any): the route changes state.
    Admin,
}

/// A route: method, path pattern as given to the router, and its access.
pub type Route = (Verb, &'static str, Access);

/// The collector's routes. The security layer classifies requests by this table; a route
/// missing from it counts as [`Access::Admin`] unless it is a GET, so nothing that changes
/// state is ever open to every user by omission.
pub const ROUTES: &[Route] = &[
    (Verb::Get, "/", Access::Read),
    (Verb::Get, "/ui/{file}", Access::Read),
    (Verb::Get, "/-/healthy", Access::Read),
    (Verb::Get, "/-/ready", Access::Read),
    (Verb::Post, "/-/reload", Access::Admin),
    (Verb::Put, "/-/reload", Access::Admin),
    (Verb::Get, "/metrics", Access::Read),
    (Verb::Get, "/federate", Access::Read),
    (Verb::Post, "/api/v1/write", Access::Admin),
    (Verb::Get, "/api/v1/targets", Access::Read),
    (Verb::Get, "/api/v1/query", Access::Read),
    (Verb::Post, "/api/v1/query", Access::Read),
    (Verb::Get, "/api/v1/query_range", Access::Read),
    (Verb::Post, "/api/v1/query_range", Access::Read),
    (Verb::Get, "/api/v1/format_query", Access::Read),
    (Verb::Post, "/api/v1/format_query", Access::Read),
    (Verb::Get, "/api/v1/query_exemplars", Access::Read),
    (Verb::Post, "/api/v1/query_exemplars", Access::Read),
    (Verb::Get, "/api/v1/series", Access::Read),
    (Verb::Post, "/api/v1/series", Access::Read),
    (Verb::Get, "/api/v1/labels", Access::Read),
    (Verb::Post, "/api/v1/labels", Access::Read),
    (Verb::Get, "/api/v1/label/{name}/values", Access::Read),
    (Verb::Get, "/api/v1/metadata", Access::Read),
    (Verb::Get, "/api/v1/status/buildinfo", Access::Read),
    (Verb::Get, "/api/v1/export.csv", Access::Read),
    (Verb::Post, "/api/v1/export.csv", Access::Read),
    (Verb::Get, "/api/v1/rules", Access::Read),
    (Verb::Get, "/api/v1/alerts", Access::Read),
    (Verb::Get, "/api/v1/alerts/history", Access::Read),
    (Verb::Post, "/api/v1/alerts/history/resolve", Access::Admin),
    (Verb::Post, "/api/v1/alerts/history/{id}/ack", Access::Admin),
    (
        Verb::Post,
        "/api/v1/alerts/history/{id}/resolve",
        Access::Admin,
    ),
    (
        Verb::Post,
        "/api/v1/admin/tsdb/delete_series",
        Access::Admin,
    ),
    (Verb::Put, "/api/v1/admin/tsdb/delete_series", Access::Admin),
    (
        Verb::Post,
        "/api/v1/admin/tsdb/clean_tombstones",
        Access::Admin,
    ),
    (
        Verb::Put,
        "/api/v1/admin/tsdb/clean_tombstones",
        Access::Admin,
    ),
    (Verb::Post, "/api/v1/admin/tsdb/snapshot", Access::Admin),
    (Verb::Put, "/api/v1/admin/tsdb/snapshot", Access::Admin),
    (Verb::Get, "/api/v2/silences", Access::Read),
    (Verb::Post, "/api/v2/silences", Access::Admin),
    (Verb::Delete, "/api/v2/silence/{id}", Access::Admin),
];

/// The access a request needs, from its method and the route pattern it matched.
pub fn access_for(method: &str, pattern: &str) -> Access {
    let method = if method == "HEAD" { "GET" } else { method };
    ROUTES
        .iter()
        .find(|(verb, path, _)| verb.as_str() == method && *path == pattern)
        .map_or(
            if method == "GET" {
                Access::Read
            } else {
                Access::Admin
            },
            |&(_, _, access)| access,
        )
}
