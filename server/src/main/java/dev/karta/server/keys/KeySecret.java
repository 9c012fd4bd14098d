package dev.karta.server.keys;

import java.security.SecureRandom;
import java.util.regex.Pattern;

/**
 * The shape of a key: {@code kt_live_} and 32 characters of {@code [A-Za-z0-9]}. Only its first
 * {@value #PREFIX_LENGTH} characters are stored in clear, as the lookup prefix.
 */
public final class KeySecret {
    public static final String MARKER = "kt_live_";
    public static final int PREFIX_LENGTH = 14;
    private static final Pattern SHAPE = Pattern.compile("kt_live_[A-Za-z0-9]{32}");
    private static final char[] ALPHABET =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".toCharArray();
    private static final SecureRandom RANDOM = new SecureRandom();

    private KeySecret() {
    }

    public static String generate() {
        StringBuilder out = new StringBuilder(MARKER);
        for (int i = 0; i < 32; i++) {
            out.append(ALPHABET[RANDOM.nextInt(ALPHABET.length)]);
        }
        return out.toString();
    }

    public static boolean isWellFormed(String secret) {
        return secret != null && SHAPE.matcher(secret).matches();
    }

    public static String prefix(String secret) {
        return secret.substring(0, PREFIX_LENGTH);
    }
}
