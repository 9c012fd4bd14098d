-- Config vars. A project's current set and each release's snapshot of the set it runs with are one
-- JSON object each, sealed like webhook secrets ('v1:' AES-GCM, see SecretBox), and a keyed digest
-- of it (HMAC-SHA256 under a key derived from the secrets key): equal sets have equal digests, and
-- nobody without the key can test a guessed value against one. Both are null for an empty set.
-- Every move of current_release_id copies the release's pair onto the project.
ALTER TABLE projects ADD COLUMN config TEXT;
ALTER TABLE projects ADD COLUMN config_digest TEXT;
ALTER TABLE releases ADD COLUMN config TEXT;
ALTER TABLE releases ADD COLUMN config_digest TEXT;
-- What made the release, for people: e.g. "Set ANTHROPIC_API_KEY, unset FOO" (names, never values).
ALTER TABLE releases ADD COLUMN description TEXT;

-- Keys the server keeps sealed with the secrets key. 'digest': the key of config digests, made
-- once (derived from the first secrets key) so that rotating the secrets key re-seals it and every
-- digest already written stays valid.
CREATE TABLE server_keys (
    name   TEXT PRIMARY KEY,
    sealed TEXT NOT NULL
);
