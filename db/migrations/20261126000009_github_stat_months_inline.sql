-- migrate:up
-- Month bodies (about 2.3 kB) kept in the table's own pages, uncompressed, instead of out of
-- line (storage external, migration 7): reading the 2,600 months of a year of 200
-- repositories fetched each body from the TOAST table by its index, about 7,200 buffer
-- reads. api.github_account_stats_parts for that year: 24-40 ms -> 17-22 ms in PostgreSQL
-- (median of 15 calls, four alternated runs). A row stays in place up to 8160 bytes
-- (toast_tuple_target); a longer one is compressed, then moved out of line, as before.
alter table data.github_stat_months set (toast_tuple_target = 8160);
alter table data.github_stat_months alter column body set storage main;
-- rewrite the rows already there (an unchanged value would keep its out-of-line copy)
update data.github_stat_months set body = body || '';

-- migrate:down
alter table data.github_stat_months alter column body set storage external;
alter table data.github_stat_months reset (toast_tuple_target);
update data.github_stat_months set body = body || '';
