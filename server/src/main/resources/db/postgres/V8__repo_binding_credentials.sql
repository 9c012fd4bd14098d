-- A binding's credential (a token, or the user and password split out of its URL), encrypted
-- like webhook_secret ('v1:' AES-GCM, see SecretBox); fetch_url no longer holds credentials.
ALTER TABLE repo_bindings ADD COLUMN credentials TEXT;
