-- PostgreSQL's 0006 adds triggers that tell every node what changed. SQLite serves
-- one process, which sees another process's commits through PRAGMA data_version;
-- nothing to add. The file keeps both backends' migrations numbered alike.
SELECT 1;
