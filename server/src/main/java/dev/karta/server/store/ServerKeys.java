package dev.karta.server.store;

import java.util.Base64;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keys the installation keeps in its database, sealed with the secrets key ({@code server_keys}).
 * Today one: the key of {@link SecretBox#digest}, made on first use from the secrets key of that
 * moment, so that a rotation of the secrets key re-seals it instead of changing every digest
 * already written (releases are never updated after insert).
 */
public final class ServerKeys {
    private static final Logger LOG = LoggerFactory.getLogger(ServerKeys.class);
    static final String DIGEST = "digest";

    private ServerKeys() {
    }

    /**
     * {@code box} with the installation's digest key: the stored one, or, on the first start, its
     * own derived key, stored now (of two servers starting at once, the first insert wins and both
     * read it). A key file that cannot open the stored key (a replica given another key file) is
     * logged here and fails each digest later, as it fails each secret it cannot open.
     */
    public static SecretBox withStoredDigestKey(Database db, SecretBox box) {
        try {
            byte[] key = digestKey(db, box);
            return box.withDigestKey(() -> key);
        } catch (IllegalStateException e) {
            LOG.error("the secrets key file does not open this database's stored keys: every server on one "
                    + "database needs the same --secrets-key-file ({})", e.getMessage());
            return box.withDigestKey(() -> {
                throw new IllegalStateException("the secrets key file does not open this database's digest key; "
                        + "every server on one database needs the same --secrets-key-file");
            });
        }
    }

    /** The stored digest key, opened with {@code box} (an error when it cannot); stored first when there is none. */
    public static byte[] digestKey(Database db, SecretBox box) {
        Optional<String> stored = read(db);
        if (stored.isEmpty()) {
            db.execute("INSERT INTO server_keys (name, sealed) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", DIGEST,
                    box.seal(box.digestKeyText()));
            stored = read(db);
        }
        String sealed = stored.orElseThrow(() -> new IllegalStateException("the digest key was not stored"));
        return Base64.getDecoder().decode(box.open(sealed));
    }

    private static Optional<String> read(Database db) {
        return db.withHandle(h -> h.select("SELECT sealed FROM server_keys WHERE name = ?", DIGEST)
                .mapTo(String.class).findOne());
    }
}
