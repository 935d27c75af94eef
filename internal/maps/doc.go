// Package maps implements Postfix-style lookup tables named "type:name":
// hash, btree and cdb (one indexed CDB file built by mailhorn map), texthash,
// inline, static, fail, regexp, pcre, cidr, unionmap, pipemap, sqlite and pgsql,
// with Postfix's lookup semantics: hash-like tables fold the query to lower
// case, pattern tables (regexp, pcre, cidr) match the whole key and run
// first match wins, a table that cannot answer returns an error, never
// "not found".
//
// Open resolves the type with a switch (openerFor); there is no run-time
// registration. File-based tables notice when their file is replaced or
// edited (a stat per lookup) and use the new content without a restart.
//
// The indexed format is D. J. Bernstein's CDB (see cdb.go), written next to
// the source as NAME.cdb through a unique temporary file, fsync and rename,
// so a reader never sees a half-written table. Files are limited to 4 GiB.
//
// Implements (see docs/lookup-tables.md for the differences): postmap(1)
// source format, regexp_table(5), pcre_table(5) (on Go's RE2 syntax),
// cidr_table(5), sqlite_table(5), pgsql_table(5), and the inline, static, unionmap and
// pipemap forms of DATABASE_README.
//
// Security: table files are trusted configuration, but every parser here
// is fuzzed (fuzz_test.go) and a corrupt CDB file yields errors, not
// panics or unbounded loops. Regular expressions use Go's RE2 engine,
// whose matching time is linear in the input, so a hostile header cannot
// make a header_checks table backtrack. SQLite databases are opened
// read-only (mode=ro, query_only) and lookup keys are quoted before being
// placed in the query template. pgsql keys are never placed in the query
// text at all: they travel as statement parameters.
package maps
