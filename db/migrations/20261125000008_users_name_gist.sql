-- migrate:up
-- Substring search on names through a GiST trigram index (256-byte signatures) instead of
-- GIN. Measured on 1M users named 'user N' (the data of make bench), median of 20 calls of
-- api.users_search_count: 'user 12345' (11 matches) 25 ms with GIN, which decodes the long
-- posting lists of the trigrams every name shares, 0.8 ms with this index; 'zzz' (none)
-- 0.4 ms (34 ms with 64-byte signatures). The price: fragments that match much of the table
-- count slower ('user 1', 111,112 matches: 49 -> 73 ms), a 20,000-row insert takes 923 ms
-- instead of 357 ms (single rows: the same), and the index takes 73 MB instead of 27 MB.
create index users_name_trgm_gist on data.users
  using gist (name extensions.gist_trgm_ops (siglen = 256));
drop index data.users_name_trgm_idx;

-- migrate:down
create index users_name_trgm_idx on data.users using gin (name extensions.gin_trgm_ops);
drop index data.users_name_trgm_gist;
