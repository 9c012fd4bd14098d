package dev.karta.server.store;

import java.util.Base64;
import java.util.Optional;

/**
 * Keys the installation keeps in its database, sealed with the secrets key ({@code server_keys}).
 * Today one: the key of {@link SecretBox#digest}, made on first use from the secrets key of that
 * moment, so that a rotation of the secrets key re-seals it instead of changing every digest
 * already written (releases are never updated after insert).
 */
public final class ServerKeys {
    static final String DIGEST = "digest";

    private ServerKeys() {
    }

    /**
     * {@code box} with the installation's digest key: the stored one, or, on the first start, its
     * own derived key, stored now (of two servers starting at once, the first insert wins and both
     * read it).
     */
    public static SecretBox withStoredDigestKey(Database db, SecretBox box) {
        Optional<String> stored = read(db);
        if (stored.isEmpty()) {
            db.execute("INSERT INTO server_keys (name, sealed) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", DIGEST,
                    box.seal(box.digestKeyText()));
            stored = read(db);
        }
        String sealed = stored.orElseThrow(() -> new IllegalStateException("the digest key was not stored"));
        return box.withDigestKey(Base64.getDecoder().decode(box.open(sealed)));
    }

    private static Optional<String> read(Database db) {
        return db.withHandle(h -> h.select("SELECT sealed FROM server_keys WHERE name = ?", DIGEST)
                .mapTo(String.class).findOne());
    }
}
