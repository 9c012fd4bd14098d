package dev.karta.server;

import java.security.SecureRandom;

/**
 * Sortable, prefixed identifiers ({@code prj_}, {@code dep_}, {@code rel_}, {@code key_},
 * {@code sess_}, …): 10 characters of millisecond time then 16 random ones, both in Crockford's
 * base32, so ids sort by creation time and never collide in practice.
 */
public final class Ids {
    private static final char[] ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz".toCharArray();
    private static final SecureRandom RANDOM = new SecureRandom();

    private Ids() {
    }

    public static String next(String prefix) {
        char[] id = new char[26];
        long time = System.currentTimeMillis();
        for (int i = 9; i >= 0; i--) {
            id[i] = ALPHABET[(int) (time & 31)];
            time >>>= 5;
        }
        for (int i = 10; i < 26; i++) {
            id[i] = ALPHABET[RANDOM.nextInt(32)];
        }
        return prefix + "_" + new String(id);
    }
}
