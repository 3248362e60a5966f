-- setpoint store schema, version 6: listing one project's executions, newest first, by an index.
--
-- The console and the API list a project's executions a page at a time; this index serves both
-- the project filter and the (created_at, id) order and cursor of `list_project_executions`, so
-- any page of a project of 100,000 executions is read without scanning the others.
CREATE INDEX executions_by_project_created ON executions (project, created_at, id);
