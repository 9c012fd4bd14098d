package dev.karta.server.store;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * SHA-256 as the server names content: lower-case hex. Archives, trees, key fingerprints and
 * cache folder names all use it.
 */
public final class Digests {
    private static final HexFormat HEX = HexFormat.of();

    private Digests() {
    }

    /** A fresh SHA-256 digest, for content that arrives in pieces. */
    public static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }

    /** The SHA-256 of {@code bytes} in hex (64 digits). */
    public static String sha256Hex(byte[] bytes) {
        return hex(sha256().digest(bytes));
    }

    /** The SHA-256 of {@code text} encoded as UTF-8, in hex (64 digits). */
    public static String sha256Hex(String text) {
        return sha256Hex(text.getBytes(StandardCharsets.UTF_8));
    }

    /** {@code bytes} in lower-case hex, two digits a byte. */
    public static String hex(byte[] bytes) {
        return HEX.formatHex(bytes);
    }
}
