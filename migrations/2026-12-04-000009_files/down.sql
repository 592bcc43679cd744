DROP TRIGGER comments_forget_files ON comments;
DROP TRIGGER tasks_forget_files ON tasks;
DROP TRIGGER companies_forget_files ON companies;
DROP TRIGGER contacts_forget_files ON contacts;
DROP TRIGGER deals_forget_files ON deals;
DROP FUNCTION files_forget_host();
DROP TABLE files;
