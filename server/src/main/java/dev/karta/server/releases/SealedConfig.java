package dev.karta.server.releases;

/**
 * A set of config vars as the database keeps it: one JSON object sealed with the secrets key, and
 * its keyed digest. Both are null for an empty set. Copied between a project and its releases
 * without ever being opened.
 */
public record SealedConfig(String sealed, String digest) {
    public static final SealedConfig EMPTY = new SealedConfig(null, null);

    public SealedConfig {
        if ((sealed == null) != (digest == null)) {
            throw new IllegalArgumentException("a sealed config and its digest go together");
        }
    }

    public boolean isEmpty() {
        return sealed == null;
    }
}
