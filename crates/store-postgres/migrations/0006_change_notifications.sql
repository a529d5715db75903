-- Every node keeps orgs, apps, sessions, accounts and memberships in memory; these
-- triggers tell all of them, on commit, what changed, whoever wrote it (a node, the
-- CLI, SQL by hand). The channel is per schema (the table's, whatever the
-- writer's search_path): `orgbase_` and the md5 of the schema name, so that it
-- always fits in an identifier and schemas sharing a database do not hear each
-- other. Payload: `orgs:<id>`, `sessions:<id>`, or a table name for changes that
-- empty a node's whole cache of that kind; `ping` is a node's own heartbeat.
CREATE FUNCTION orgbase_notify_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('orgbase_' || md5(TG_TABLE_SCHEMA),
                      TG_TABLE_NAME || ':' || CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END);
    RETURN NULL;
END
$$;

CREATE FUNCTION orgbase_notify_table() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('orgbase_' || md5(TG_TABLE_SCHEMA), TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER orgs_changed AFTER UPDATE OR DELETE ON orgs
    FOR EACH ROW EXECUTE FUNCTION orgbase_notify_row();
CREATE TRIGGER sessions_changed AFTER UPDATE OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION orgbase_notify_row();
CREATE TRIGGER apps_changed AFTER INSERT OR UPDATE OR DELETE ON apps
    FOR EACH STATEMENT EXECUTE FUNCTION orgbase_notify_table();
CREATE TRIGGER accounts_changed AFTER INSERT OR UPDATE OR DELETE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION orgbase_notify_table();
CREATE TRIGGER members_changed AFTER INSERT OR UPDATE OR DELETE ON members
    FOR EACH STATEMENT EXECUTE FUNCTION orgbase_notify_table();
CREATE TRIGGER connections_changed AFTER INSERT OR UPDATE OR DELETE ON connections
    FOR EACH STATEMENT EXECUTE FUNCTION orgbase_notify_table();
